"""The NHS.UK component macros, remembered: the same params render the same HTML once.

Profiling showed the macros of nhsuk-frontend-jinja are most of a page's time: the page
shell's header alone took about a third of an empty page, and the empty "log a contact"
form a third of the case page. Their output depends on nothing but their params (they are
imported without context, so they see only the environment's globals), and most calls on
a page repeat from one request to the next: the header and footer for a role, the fields of
an empty form, a status tag.

CachingComponentLoader serves each component's `macro.jinja` as a macro that calls
render_component() instead of including the component's template. render_component() keys
the params by value and type (a str and a Markup of the same text are different keys, as
they render differently) and renders the real template only on a miss. Calls with a
caller block, and params holding anything but plain data, always render. Templates keep
importing the macros exactly as the package documents.

The cache is per process and bounded: when full it starts again, which also bounds how long
a person's details shown in a component stay in the server's memory after they change.
"""

from __future__ import annotations

import re
import threading

from jinja2 import BaseLoader, Environment, TemplateNotFound, Undefined
from markupsafe import Markup

MAX_ENTRIES = 4096

# The package's macro files all have this shape (tests/test_component_cache.py checks it).
STANDARD_MACRO = re.compile(
    r"\A\s*\{% macro (?P<name>[A-Za-z]+)\(params = \{\}\) %\}\s*"
    r"(?:\{%- if caller -%\}\s*\{# noop for Jinja support #\}\s*\{%- endif -%\}\s*)?"
    r'\{%- include "(?P<template>nhsuk/components/[a-z/-]+/template\.jinja)" -%\}\s*'
    r"\{% endmacro %\}\s*\Z"
)
MACRO_PATH = re.compile(r"\Anhsuk/components/[a-z/-]+/macro\.jinja\Z")


class Uncacheable(Exception):
    pass


def cache_key(value) -> tuple:
    """A hashable key that differs whenever the rendered HTML could."""
    # Markup first: it is a str subclass that renders unescaped.
    if isinstance(value, Markup):
        return ("m", str(value))
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, bool):  # before int: True == 1 but renders as "True"
        return ("b", value)
    if isinstance(value, int | float):
        return (type(value).__name__, value)
    if value is None:
        return ("n",)
    if isinstance(value, Undefined):
        return ("u",)
    if isinstance(value, dict):
        # The package's select template writes one key as a bare name, which Jinja reads as
        # an undefined variable: such params render without the cache.
        if not all(type(key) is str for key in value):
            raise Uncacheable("a key that is not text")
        return ("d", tuple((key, cache_key(item)) for key, item in sorted(value.items())))
    if isinstance(value, list | tuple):
        return ("l", tuple(cache_key(item) for item in value))
    raise Uncacheable(type(value).__name__)


class ComponentCache:
    def __init__(self, environment: Environment, max_entries: int = MAX_ENTRIES):
        self.environment = environment
        self.max_entries = max_entries
        self.entries: dict[tuple, Markup] = {}
        self.hits = self.misses = self.uncached = 0
        self.plain_loader: BaseLoader | None = None
        self._lock = threading.Lock()

    def render(self, template_name: str, params, caller=None) -> Markup:
        if caller is not None and not isinstance(caller, Undefined):
            self.uncached += 1
            return self._render(template_name, params, caller)
        try:
            key = (template_name, cache_key(params))
        except Uncacheable:
            self.uncached += 1
            return self._render(template_name, params, caller)
        html = self.entries.get(key)
        if html is not None:
            self.hits += 1
            return html
        self.misses += 1
        html = self._render(template_name, params, caller)
        with self._lock:
            if len(self.entries) >= self.max_entries:
                self.entries.clear()
            self.entries[key] = html
        return html

    def _render(self, template_name: str, params, caller) -> Markup:
        template = self.environment.get_template(template_name)
        # The component templates autoescape (create_app sets autoescape for every file).
        return Markup(template.render(params=params, caller=caller))  # noqa: S704


class CachingComponentLoader(BaseLoader):
    """Serves the package's component macro files rewritten to call the cache; any other
    name, or a macro file of another shape, is left to the loaders after it."""

    def __init__(self, package_loader: BaseLoader):
        self.package_loader = package_loader

    def get_source(self, environment: Environment, template: str):
        if not MACRO_PATH.match(template):
            raise TemplateNotFound(template)
        source, filename, uptodate = self.package_loader.get_source(environment, template)
        shape = STANDARD_MACRO.match(source)
        if shape is None:
            raise TemplateNotFound(template)
        rewritten = (
            f"{{% macro {shape['name']}(params = {{}}) %}}"
            f"{{{{ nhsuk_component({shape['template']!r}, params, caller) }}}}"
            "{% endmacro %}"
        )
        return rewritten, filename, uptodate


def install(environment: Environment, package_loader: BaseLoader) -> ComponentCache:
    """Puts the caching loader in front of the environment's loader; returns the cache."""
    from jinja2 import ChoiceLoader

    cache = ComponentCache(environment)
    cache.plain_loader = environment.loader  # as the package ships them; the tests compare
    environment.loader = ChoiceLoader([CachingComponentLoader(package_loader), environment.loader])
    environment.globals["nhsuk_component"] = cache.render
    return cache
