"""Small server-rendered charts: no JavaScript library to ship or keep up to date.

Text that must stay readable at any width (the legend, the purposes' names) is HTML beside the SVG, not
inside it: an SVG shrinks its text with the chart, and its labels cannot wrap."""
import math
from datetime import date, timedelta

from django.utils.formats import date_format
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

PALETTE = ["#1d4ed8", "#d97706", "#059669", "#b42318", "#7c3aed", "#0e7490", "#be185d", "#4d7c0f"]
WIDTH, HEIGHT = 600, 200
LEFT, BOTTOM, TOP = 34, 22, 10  # room for the count axis, the date axis and the top tick's label
Y_TICKS = 4


def _count_ticks(peak: int) -> list[int]:
    """Whole-number ticks from 0 up to at least the peak, at most Y_TICKS steps."""
    step = max(1, math.ceil(peak / Y_TICKS))
    return list(range(0, step * math.ceil(max(peak, 1) / step) + 1, step))


def stacked_daily_bars(table: dict[str, dict[date, int]], days: int, today: date) -> SafeString:
    """Searches per day, one colour per user, over the last `days` days, with both axes and a legend."""
    dates = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    users = sorted(table)
    totals = [sum(table[user].get(day, 0) for user in users) for day in dates]
    ticks = _count_ticks(max(totals + [1]))
    top_value = ticks[-1]
    plot_width, plot_height = WIDTH - LEFT, HEIGHT - BOTTOM - TOP
    bar = plot_width / days

    def y_of(count: float) -> float:
        return TOP + plot_height * (1 - count / top_value)

    label = _("Searches per day per user over the last %(days)s days") % {"days": days}
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}">']
    for tick in ticks:
        y = y_of(tick)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="axis-label" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
    for column, day in enumerate(dates):
        base = HEIGHT - BOTTOM
        for index, user in enumerate(users):
            count = table[user].get(day, 0)
            if not count:
                continue
            height = plot_height * count / top_value
            base -= height
            parts.append(f'<rect x="{LEFT + column * bar + 1:.1f}" y="{base:.1f}" width="{bar - 2:.1f}" '
                         f'height="{height:.1f}" fill="{PALETTE[index % len(PALETTE)]}">'
                         f'<title>{escape(user)} {date_format(day, "SHORT_DATE_FORMAT")}: {count}</title></rect>')
        if column % 7 == (days - 1) % 7:  # a date every week, ending on today
            x = LEFT + (column + 0.5) * bar
            anchor = "end" if x > WIDTH - 24 else "middle"  # today's date ends at the edge, not past it
            parts.append(f'<text class="axis-label" x="{min(x, WIDTH):.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}">'
                         f'{escape(date_format(day, "j M"))}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM}"/>'
                 f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/></svg>')
    legend = format_html_join("", '<li><span class="swatch swatch-{}" aria-hidden="true"></span>{}</li>',
                              ((index % len(PALETTE), user) for index, user in enumerate(users)))
    # On a phone the chart scrolls sideways inside its card: a region the keyboard can reach too.
    return format_html('<div class="chart-scroll" tabindex="0" role="region" aria-label="{}">{}</div>'
                       '<ul class="chart-legend" aria-label="{}">{}</ul>',
                       label, mark_safe("".join(parts)), _("Users"), legend)


def horizontal_bars(rows: list[tuple[str, int]]) -> SafeString:
    """One bar per label, longest first: an HTML list, so long labels wrap instead of overlapping."""
    peak = max([count for _label, count in rows] + [1])
    items = format_html_join(
        "", '<li><span class="bar-label">{}</span><progress class="meter" max="{}" value="{}" aria-label="{}">'
        '{}</progress><span class="bar-count">{}</span></li>',
        ((label, peak, count, label, count, count) for label, count in rows))
    return format_html('<ul class="bar-list">{}</ul>', items)
