"""Random sequences of edits, captioning runs (results arriving while the user edits), undos and
redos, checked after every step against a plain model of what the captions should be (issue 15,
item 7: no sequence loses an edit).

The app's pieces are driven as the window drives them, without threads: EditController for
edits and history (`commit_caption`, as the side panel sends them; the item model's setData, as
the inline editor does) and RunController's ActiveRun for a run's results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtGui import QUndoStack

from visioncap_desktop.controllers.edit_controller import EditController
from visioncap_desktop.controllers.run_controller import ActiveRun
from visioncap_desktop.gallery.item_model import GalleryModel
from visioncap_desktop.records import CaptionState, ImageRecord

PATHS = [f"/p/{i}.jpg" for i in range(4)]
State = dict[str, tuple[str, CaptionState]]


@dataclass
class Reference:
    """What the captions should be: a list of whole states, one per undo step, and where we are.

    - an edit that changes a caption adds a step (text being typed is no edit until committed);
    - a run adds its step with its first change; a result changes an image only if nobody else
      changed it since the run started (or since the run's own last result for it), and is
      then part of the run's step and of every later step;
    - undo and redo move through the steps, and do nothing while a run is going.
    """

    states: list[State]
    index: int = 0
    run_step: int | None = None  # the run's step, once it has one
    run_expected: dict[str, tuple[str, CaptionState]] = field(default_factory=dict)
    running: bool = False
    overwrite: bool = False

    @property
    def current(self) -> State:
        return self.states[self.index]

    def _new_step(self, state: State) -> None:
        del self.states[self.index + 1:]
        self.states.append(state)
        self.index += 1

    def edit(self, path: str, text: str) -> None:
        if text != self.current[path][0]:
            state = dict(self.current)
            state[path] = (text, CaptionState.EDITED)
            self._new_step(state)

    def start_run(self, overwrite: bool) -> None:
        self.running, self.overwrite, self.run_step = True, overwrite, None
        self.run_expected = dict(self.current)

    def result(self, path: str, snapshot_of) -> bool:
        caption, state = self.current[path]
        if (state is CaptionState.EDITED and not self.overwrite) or self.current[path] != self.run_expected[path]:
            return False
        new = snapshot_of(caption)
        if new == self.current[path]:
            return True
        if self.run_step is None:
            self._new_step(dict(self.current))
            self.run_step = self.index
        for state_ in self.states[self.run_step:]:
            state_[path] = new
        self.run_expected[path] = new
        return True

    def end_run(self) -> None:
        self.running = False

    def undo(self) -> None:
        if not self.running:
            self.index = max(0, self.index - 1)

    def redo(self) -> None:
        if not self.running:
            self.index = min(len(self.states) - 1, self.index + 1)


texts = st.sampled_from(["a cat", "a dog", "a cat, sitting", "", "two cats"])
steps = st.lists(
    st.one_of(
        st.tuples(st.just("panel"), st.integers(0, 3), texts),  # side panel
        st.tuples(st.just("inline"), st.integers(0, 3), texts),
        st.tuples(st.just("run"), st.booleans()),
        st.tuples(st.just("result"), st.integers(0, 3), st.booleans()),  # caption or failure
        st.tuples(st.just("end"),),
        st.tuples(st.just("undo"),),
        st.tuples(st.just("redo"),),
    ),
    max_size=40,
)


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps)
def test_no_sequence_of_edits_runs_undos_and_redos_loses_an_edit(qapp, sequence):
    stack = QUndoStack()
    model = GalleryModel(undo_stack=stack)
    model.add_records(ImageRecord(p, p.rsplit("/", 1)[1]) for p in PATHS)
    editing = EditController(model, stack)
    reference = Reference(states=[{p: ("", CaptionState.PENDING) for p in PATHS}])
    run: ActiveRun | None = None
    runs = 0

    for step in sequence:
        kind = step[0]
        if kind == "panel":
            _, i, text = step
            editing.commit_caption(PATHS[i], text)
            reference.edit(PATHS[i], text)
        elif kind == "inline":
            _, i, text = step
            model.setData(model.index_for_path(PATHS[i]), text)
            reference.edit(PATHS[i], text)
        elif kind == "run" and run is None:
            runs += 1
            run = ActiveRun(runs, model.records(), step[1], model, stack)
            editing.set_locked(True)
            reference.start_run(step[1])
        elif kind == "result" and run is not None:
            _, i, ok = step
            path = PATHS[i]
            if ok:
                text = f"run {runs} says {i}"
                run.caption_ready(path, text, "m")
                reference.result(path, lambda _caption, text=text: (text, CaptionState.CAPTIONED))
            else:
                run.caption_failed(path, "unreadable")
                reference.result(path, lambda caption: (caption, CaptionState.ERROR))
        elif kind == "end" and run is not None:
            run.finish()
            run = None
            editing.set_locked(False)
            reference.end_run()
        elif kind == "undo":
            editing.undo()
            reference.undo()
        elif kind == "redo":
            editing.redo()
            reference.redo()
        actual = {r.path: (r.caption, r.state) for r in model.records()}
        assert actual == reference.current, f"after {step} in {sequence}"
        assert stack.index() == reference.index and stack.count() == len(reference.states) - 1, f"after {step}"

    # every step is still there: redoing all of them ends at the last state
    if run is not None:
        run.finish()
        editing.set_locked(False)
        reference.end_run()
    while stack.canRedo():
        editing.redo()
        reference.redo()
    assert {r.path: (r.caption, r.state) for r in model.records()} == reference.states[-1]
