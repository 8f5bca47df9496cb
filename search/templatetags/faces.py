from django import template

register = template.Library()


@register.simple_tag
def box_style(box, width: int, height: int) -> str:
    """CSS that places a [top, right, bottom, left] box over an image shown at any size."""
    top, right, bottom, left = box
    width, height = max(1, width), max(1, height)
    return (
        f"top:{100 * top / height:.2f}%;left:{100 * left / width:.2f}%;"
        f"width:{100 * (right - left) / width:.2f}%;height:{100 * (bottom - top) / height:.2f}%"
    )
