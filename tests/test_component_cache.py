"""The NHS.UK component cache (portal/component_cache.py): it only ever repeats what the
package's macros would render, and it is used."""

from __future__ import annotations

import re
from pathlib import Path

import nhsuk_frontend_jinja
from jinja2 import ChainableUndefined
from markupsafe import Markup

from portal.component_cache import STANDARD_MACRO, ComponentCache, cache_key
from tests.component_check import ComponentCheck

PACKAGE = Path(nhsuk_frontend_jinja.__file__).parent / "templates"
PORTAL_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _macro_files() -> dict[str, str]:
    return {
        str(path.relative_to(PACKAGE)): path.read_text()
        for path in sorted((PACKAGE / "nhsuk" / "components").rglob("macro.jinja"))
    }


def test_every_component_macro_the_portal_imports_has_the_shape_the_cache_rewrites():
    # A macro file of another shape would silently fall back to the package's own (still
    # correct, never cached): this says when an upgrade of the package does that.
    imported = set()
    for template in PORTAL_TEMPLATES.rglob("*.html"):
        imported |= set(
            re.findall(r'"(nhsuk/components/[a-z/-]+/macro\.jinja)"', template.read_text())
        )
    for source in _macro_files().values():
        imported |= set(re.findall(r'"(nhsuk/components/[a-z/-]+/macro\.jinja)"', source))
    assert len(imported) > 15
    files = _macro_files()
    odd = sorted(name for name in imported if not STANDARD_MACRO.match(files[name]))
    assert odd == []


def test_the_key_tells_apart_values_that_render_differently():
    assert cache_key("<b>") != cache_key(Markup("<b>"))
    assert cache_key(True) != cache_key(1)
    assert cache_key(1) != cache_key(1.0)
    assert cache_key(None) != cache_key(ChainableUndefined())
    assert cache_key([1, 2]) != cache_key([2, 1])
    assert cache_key({"a": 1, "b": 2}) == cache_key({"b": 2, "a": 1})
    assert cache_key({"items": [{"text": "x"}]}) != cache_key({"items": [{"html": "x"}]})


def test_a_second_request_of_a_page_renders_its_components_from_the_cache(
    app, logged_in_coordinator
):
    cache = app.extensions["component_cache"]
    logged_in_coordinator.get("/hub")
    hits, misses = cache.hits, cache.misses
    response = logged_in_coordinator.get("/hub")
    assert response.status_code == 200
    assert cache.hits > hits
    assert cache.misses == misses


def test_the_same_params_give_the_same_html_as_the_macro_and_a_str_stays_escaped(app):
    with app.app_context(), app.test_request_context():
        env = app.jinja_env
        page = '{% from "nhsuk/components/tag/macro.jinja" import tag %}{{ tag(p) }}'
        cached = env.from_string(page)
        plain = app.jinja_env.overlay(
            loader=app.extensions["component_cache"].plain_loader
        ).from_string(page)
        for params in (
            {"text": "<script>alert(1)</script>"},
            {"html": Markup("<strong>Safe</strong>")},
            {"text": "Urgent", "classes": "nhsuk-tag--red"},
        ):
            first, second = cached.render(p=params), cached.render(p=params)
            assert first == second == plain.render(p=params)
        assert "&lt;script&gt;" in cached.render(p={"text": "<script>alert(1)</script>"})
        assert "<strong>Safe</strong>" in cached.render(p={"html": Markup("<strong>Safe</strong>")})


def test_params_with_a_key_that_is_not_text_render_without_the_cache(app):
    # The package's select template passes its error message a bare-name key, which Jinja
    # reads as an undefined variable.
    with app.app_context(), app.test_request_context():
        cache = app.extensions["component_cache"]
        uncached = cache.uncached
        html = cache.render(
            "nhsuk/components/error-message/template.jinja",
            {"text": "Choose a practice", ChainableUndefined(name="classes"): None},
        )
        assert "Choose a practice" in html
        assert cache.uncached == uncached + 1


def test_a_call_block_is_never_cached(app):
    with app.app_context(), app.test_request_context():
        cache = app.extensions["component_cache"]
        page = app.jinja_env.from_string(
            '{% from "nhsuk/components/card/macro.jinja" import card %}'
            '{% call card({"heading": "Plan"}) %}{{ body }}{% endcall %}'
        )
        uncached = cache.uncached
        assert "first body" in page.render(body="first body")
        assert "second body" in page.render(body="second body")
        assert cache.uncached >= uncached + 2


def test_the_cache_is_bounded(app):
    with app.app_context(), app.test_request_context():
        cache = ComponentCache(app.jinja_env, max_entries=3)
        for n in range(10):
            assert f"Tag {n}" in cache.render(
                "nhsuk/components/tag/template.jinja", {"text": f"Tag {n}"}
            )
            assert len(cache.entries) <= 3


def test_the_page_check_finds_a_cached_component_that_differs(app, logged_in_coordinator):
    # The check that tests/test_object_access.py and tests/test_hostile_input.py attach
    # must be able to fail: poison every cached entry and it reports the page.
    cache = app.extensions["component_cache"]
    logged_in_coordinator.get("/hub")
    for key in list(cache.entries):
        cache.entries[key] = Markup("<p>not what the macro renders</p>")
    try:
        with ComponentCheck(app) as check:
            assert logged_in_coordinator.get("/hub").status_code == 200
        assert check.compared >= 1
        assert check.differences and "referrals/hub.html" in check.differences[0]
    finally:
        cache.entries.clear()


def test_the_page_check_passes_on_real_pages(app, logged_in_coordinator):
    with ComponentCheck(app) as check:
        for path in ("/hub", "/caseload", "/volunteers", "/referrals/new"):
            assert logged_in_coordinator.get(path).status_code == 200
    assert check.compared == 4
    assert check.differences == []
