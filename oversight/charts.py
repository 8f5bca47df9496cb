"""Small server-rendered SVG charts: no JavaScript library to ship or keep up to date."""
from datetime import date, timedelta

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ["#1f5fbf", "#d97706", "#059669", "#b42318", "#7c3aed", "#0e7490", "#be185d", "#4d7c0f"]


def stacked_daily_bars(table: dict[str, dict[date, int]], days: int, today: date) -> SafeString:
    """Searches per day, one colour per user, over the last `days` days."""
    dates = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    users = sorted(table)
    totals = [sum(table[user].get(day, 0) for user in users) for day in dates]
    peak = max(totals + [1])
    width, height, bar = 640, 180, 640 / days
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height + 40}" role="img" aria-label="searches per day per user">']
    for column, day in enumerate(dates):
        y = height
        for index, user in enumerate(users):
            count = table[user].get(day, 0)
            if not count:
                continue
            h = height * count / peak
            y -= h
            parts.append(f'<rect x="{column * bar + 1:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
                         f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(user)} {day:%Y-%m-%d}: {count}</title></rect>')
    parts.append(f'<text x="0" y="{height + 14}" font-size="11">{dates[0]:%Y-%m-%d}</text>')
    parts.append(f'<text x="{width}" y="{height + 14}" font-size="11" text-anchor="end">{dates[-1]:%Y-%m-%d}</text>')
    for index, user in enumerate(users[:8]):
        x = index * 160
        parts.append(f'<rect x="{x}" y="{height + 24}" width="10" height="10" fill="{PALETTE[index % len(PALETTE)]}"/>'
                     f'<text x="{x + 14}" y="{height + 33}" font-size="11">{escape(user)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def horizontal_bars(rows: list[tuple[str, int]]) -> SafeString:
    peak = max([count for _label, count in rows] + [1])
    row_height, width = 24, 640
    parts = [f'<svg class="chart" viewBox="0 0 {width} {row_height * max(1, len(rows))}" role="img" '
             f'aria-label="searches by purpose">']
    for index, (label, count) in enumerate(rows):
        y = index * row_height
        bar = (width - 260) * count / peak
        parts.append(f'<text x="0" y="{y + 16}" font-size="12">{escape(label)}</text>'
                     f'<rect x="200" y="{y + 4}" width="{bar:.1f}" height="16" fill="{PALETTE[0]}"/>'
                     f'<text x="{206 + bar:.1f}" y="{y + 16}" font-size="12">{count}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
