"""Checks that the component cache (portal/component_cache.py) never changes a page.

While attached, every template Flask renders is rendered a second time, in the same
request and with the same context, through an environment that loads the NHS.UK macros as
the package ships them (no cache). The two must be identical. Tests that render many
different pages with real and hostile data attach it (tests/test_object_access.py,
tests/test_hostile_input.py), and tests/test_component_cache.py checks it can fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, template_rendered


@dataclass
class ComponentCheck:
    app: Flask
    compared: int = 0
    differences: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        cache = self.app.extensions["component_cache"]
        self.plain = self.app.jinja_env.overlay(loader=cache.plain_loader)

    def _rendered(self, sender, template, context, **extra) -> None:
        if template.name is None:  # render_template_string
            return
        plain = self.plain.get_template(template.name).render(context)
        again = template.render(context)  # what the cached path gives for this context
        self.compared += 1
        if plain != again:
            at = next(
                (i for i, (a, b) in enumerate(zip(plain, again, strict=False)) if a != b),
                min(len(plain), len(again)),
            )
            self.differences.append(
                f"{template.name}: the package's macros give {plain[at - 80 : at + 80]!r} "
                f"where the cache gives {again[at - 80 : at + 80]!r}"
            )

    def __enter__(self) -> ComponentCheck:
        template_rendered.connect(self._rendered, self.app)
        return self

    def __exit__(self, *exc) -> None:
        template_rendered.disconnect(self._rendered, self.app)
