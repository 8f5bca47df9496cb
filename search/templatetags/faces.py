"""Numbered boxes drawn over the faces of a photo, at any display size.

The boxes are an SVG whose coordinates are the photo's own pixels, stretched exactly over the <img>:
the browser scales both together, so a box stays on its face however the photo is resized (no inline
style, no script)."""
from django import template

register = template.Library()

LABEL_SHARE = 0.055  # the number's height, as a share of the photo's longer side


def _box(face) -> list[int]:
    return list(face["box"] if isinstance(face, dict) else face.box)


@register.inclusion_tag("search/_face_frame.html")
def face_frame(src: str, alt: str, width: int, height: int, faces, extra_class: str = "") -> dict:
    width, height = max(1, width), max(1, height)
    label = max(12, round(LABEL_SHARE * max(width, height)))
    boxes = []
    for number, face in enumerate(faces, start=1):
        top, right, bottom, left = _box(face)
        number = getattr(face, "index", number)
        label_width = round(label * (0.75 + 0.55 * len(str(number))))
        label_top = top - label if top >= label else top  # inside the box when there is no room above
        boxes.append({"number": number, "x": left, "y": top, "width": right - left, "height": bottom - top,
                      "label_x": left, "label_y": label_top, "label_width": label_width, "label_height": label,
                      "text_x": round(left + label_width / 2), "text_y": round(label_top + label * 0.78),
                      "font_size": round(label * 0.8), "box": f"{top},{right},{bottom},{left}"})
    return {"src": src, "alt": alt, "width": width, "height": height, "boxes": boxes, "extra_class": extra_class}
