"""The app's structure: no import circle, and controllers that know neither the window nor each
other (they report by signals; the window wires them)."""

from __future__ import annotations

import ast
from pathlib import Path

import visioncap_desktop

APP = Path(visioncap_desktop.__file__).parent


def app_imports() -> dict[str, set[str]]:
    """module -> the visioncap_desktop modules it imports (at any depth in the file)."""
    modules = {".".join(p.relative_to(APP.parent).with_suffix("").parts).removesuffix(".__init__"): p
               for p in APP.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                candidates = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            else:
                continue
            found.update(c for c in candidates if c in modules and c != "visioncap_desktop")
        graph[name] = found
    return graph


def test_no_import_circle():
    graph = app_imports()
    done, on_path = set(), []

    def visit(module):
        if module in on_path:
            raise AssertionError("import circle: " + " -> ".join([*on_path[on_path.index(module):], module]))
        if module in done:
            return
        on_path.append(module)
        for imported in graph[module]:
            visit(imported)
        on_path.pop()
        done.add(module)

    for module in graph:
        visit(module)


def test_controllers_import_neither_the_window_nor_each_other():
    shared = {"visioncap_desktop.controllers.decisions", "visioncap_desktop.controllers.message"}
    for module, imported in app_imports().items():
        if module.startswith("visioncap_desktop.controllers.") and module not in shared:
            assert "visioncap_desktop.main_window" not in imported, module
            others = {m for m in imported if m.startswith("visioncap_desktop.controllers.")} - shared
            assert not others, f"{module} imports {others}"


def test_each_controller_module_holds_the_controller_it_is_named_for():
    """controllers/<concern>_controller.py holds <Concern>Controller; decisions.py and message.py
    are the only other modules there."""
    folder = APP / "controllers"
    names = {p.stem for p in folder.glob("*.py")} - {"__init__"}
    assert names - {n for n in names if n.endswith("_controller")} == {"decisions", "message"}
    for name in sorted(n for n in names if n.endswith("_controller")):
        tree = ast.parse((folder / f"{name}.py").read_text(encoding="utf-8"))
        classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
        expected = "".join(part.title() for part in name.split("_"))  # batch_edit_controller -> BatchEditController
        assert expected in classes, f"{name}.py holds no {expected} (it has {sorted(classes)})"


def test_the_import_circle_test_finds_one(tmp_path, monkeypatch):
    package = tmp_path / "visioncap_desktop"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "a.py").write_text("from visioncap_desktop.b import x\n", encoding="utf-8")
    (package / "b.py").write_text("from visioncap_desktop import a\n", encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.APP", package)
    try:
        test_no_import_circle()
    except AssertionError as exc:
        assert "visioncap_desktop.a -> visioncap_desktop.b -> visioncap_desktop.a" in str(exc)
    else:
        raise AssertionError("the circle was not found")
