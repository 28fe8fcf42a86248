"""Generation settings, device, batch size and CPU threads; the model (the list of models, with
the caption style or prompt of the chosen one), and a way to the model chooser."""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from core.captioning.device import ACCELERATORS, DeviceInventory
from core.captioning.threads import usable_cpus
from visioncap_desktop.dialogs.model_picker import ModelPicker
from visioncap_desktop.model_choice import ModelChoice
from visioncap_desktop.settings import DEVICES, THEMES, clean_generation

STRATEGY_LABELS = {"greedy": "Greedy (fast, deterministic)", "sample": "Sampling", "beam": "Beam search"}
THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}
# before PyTorch is loaded (with the first model) nothing is known about the devices
DEVICE_LABELS = {
    "auto": "Automatic: a GPU when PyTorch finds one, else the CPU",
    "cpu": "CPU",
    "cuda": "NVIDIA or AMD GPU (CUDA, ROCm)",
    "mps": "Apple GPU (MPS)",
    "xpu": "Intel GPU (XPU)",
}
ABSENT = "not available on this computer"
NEEDS = {  # why a GPU can be absent, for the tooltip of its greyed-out entry (docs/devices.md)
    "cuda": "a CUDA build of PyTorch and an NVIDIA driver, or a ROCm build for an AMD GPU",
    "mps": "a Mac with Apple silicon",
    "xpu": "an XPU build of PyTorch and Intel's GPU driver",
}


class DeviceChoice(NamedTuple):
    key: str  # visioncap_desktop.settings.DEVICES
    text: str
    enabled: bool
    tip: str = ""


def device_choices(devices: DeviceInventory | None, saved: str) -> list[DeviceChoice]:
    """The Device list: Automatic (naming what it picks), the CPU, and each kind of GPU, named
    where present and disabled with the reason where absent, except the `saved` choice, which
    stays choosable so that it can be seen and changed. `devices`: None while PyTorch is not
    loaded; then every entry is offered with its general name."""
    if devices is None:
        return [DeviceChoice(key, DEVICE_LABELS[key], True) for key in DEVICES]
    picked = "the CPU (no GPU that PyTorch can use)" if devices.auto == "cpu" else devices.names.get(devices.auto)
    choices = [DeviceChoice("auto", f"Automatic: {picked}", True), DeviceChoice("cpu", devices.names["cpu"], True)]
    for key in ACCELERATORS:
        if key in devices.names:
            choices.append(DeviceChoice(key, devices.names[key], True))
        else:
            tip = f"PyTorch finds no {DEVICE_LABELS[key]} here: it needs {NEEDS[key]}."
            choices.append(DeviceChoice(key, f"{DEVICE_LABELS[key]}: {ABSENT}", key == saved, tip))
    return choices


class SettingsDialog(QDialog):
    model_change_requested = Signal()

    def __init__(self, generation: dict, device: str, batch_size: int, model_text: str, parent=None,
                 theme: str = "system", devices: DeviceInventory | None = None, cpu_threads: int = 0,
                 choice: ModelChoice | None = None, demo: bool = True):
        """`devices`: what this computer offers, None when not known yet (PyTorch is loaded
        with the first model). `cpu_threads`: the model's CPU threads, 0 for automatic.
        `choice`: the model the open folder uses, listed among the others with its style or
        prompt (None: no list, as under `--model`); `demo`: the built-in demo is there."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        generation = clean_generation(generation)

        model_box = QGroupBox("Model", self)
        self.model_label = QLabel(model_text, model_box)
        self.model_label.setWordWrap(True)
        change = QPushButton("Choose model...", model_box)
        change.clicked.connect(self.model_change_requested)
        self.picker = ModelPicker(model_box)
        self.picker.combo.currentIndexChanged.connect(lambda: self.isVisible() and self.adjustSize())  # style row
        self._demo = demo
        self.set_model(model_text, choice)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_label, 1)
        model_row.addWidget(change)
        model_column = QVBoxLayout(model_box)
        model_column.addLayout(model_row)
        model_column.addWidget(self.picker)

        run_box = QGroupBox("Hardware", self)
        self.device = QComboBox(run_box)
        for row, choice in enumerate(device_choices(devices, device)):
            self.device.addItem(choice.text, choice.key)
            self.device.model().item(row).setEnabled(choice.enabled)
            if choice.tip:
                self.device.setItemData(row, choice.tip, Qt.ItemDataRole.ToolTipRole)
        self.device.setCurrentIndex(max(0, self.device.findData(device)))
        self.batch_size = QSpinBox(run_box)
        self.batch_size.setRange(1, 256)
        self.batch_size.setValue(batch_size)
        self.batch_size.setToolTip("Images captioned together. Larger is faster on a GPU; "
                                   "after running out of GPU memory the app lowers it by itself.")
        self.cpu_threads = QComboBox(run_box)
        self.cpu_threads.addItem("Automatic", 0)
        for count in range(1, usable_cpus() + 1):
            self.cpu_threads.addItem(str(count), count)
        self.cpu_threads.setCurrentIndex(max(0, self.cpu_threads.findData(cpu_threads)))
        self.cpu_threads.setToolTip("Takes effect at the next batch, also during a run.")
        threads_note = QLabel("Automatic adapts to what else the computer is doing.", run_box)
        threads_note.setWordWrap(True)
        run_form = QFormLayout(run_box)
        run_form.addRow("Device:", self.device)
        run_form.addRow("Batch size:", self.batch_size)
        run_form.addRow("CPU threads:", self.cpu_threads)
        run_form.addRow("", threads_note)

        gen_box = QGroupBox("Caption generation", self)
        self.strategy = QComboBox(gen_box)
        for key, label in STRATEGY_LABELS.items():
            self.strategy.addItem(label, key)
        self.strategy.setCurrentIndex(list(STRATEGY_LABELS).index(generation["strategy"]))
        self.max_new_tokens = QSpinBox(gen_box)
        self.max_new_tokens.setRange(1, 256)
        self.max_new_tokens.setValue(generation["max_new_tokens"])
        self.max_new_tokens.setSuffix(" tokens")
        self.temperature = QDoubleSpinBox(gen_box)
        self.temperature.setRange(0.05, 5.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(generation["temperature"])
        self.top_k = QSpinBox(gen_box)
        self.top_k.setRange(0, 10000)
        self.top_k.setSpecialValueText("off")
        self.top_k.setValue(generation["top_k"])
        self.top_p = QDoubleSpinBox(gen_box)
        self.top_p.setRange(0.01, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_p.setValue(generation["top_p"])
        self.num_beams = QSpinBox(gen_box)
        self.num_beams.setRange(1, 16)
        self.num_beams.setValue(generation["num_beams"])
        gen_form = QFormLayout(gen_box)
        gen_form.addRow("Strategy:", self.strategy)
        gen_form.addRow("Maximum length:", self.max_new_tokens)
        gen_form.addRow("Temperature:", self.temperature)
        gen_form.addRow("Top-k:", self.top_k)
        gen_form.addRow("Top-p:", self.top_p)
        gen_form.addRow("Beams:", self.num_beams)
        self.strategy.currentIndexChanged.connect(self._update_enabled)
        self._update_enabled()

        look_box = QGroupBox("Appearance", self)
        self.theme = QComboBox(look_box)
        for key in THEMES:
            self.theme.addItem(THEME_LABELS[key], key)
        self.theme.setCurrentIndex(THEMES.index(theme) if theme in THEMES else 0)
        QFormLayout(look_box).addRow("Theme:", self.theme)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(model_box)
        layout.addWidget(run_box)
        layout.addWidget(gen_box)
        layout.addWidget(look_box)
        layout.addWidget(buttons)

    def _update_enabled(self) -> None:
        strategy = self.strategy.currentData()
        for widget in (self.temperature, self.top_k, self.top_p):
            widget.setEnabled(strategy == "sample")
        self.num_beams.setEnabled(strategy == "beam")

    def set_model(self, text: str, choice: ModelChoice | None = None) -> None:
        """Show the model in use (also when chosen meanwhile with Choose model...)."""
        self.model_label.setText(text)
        self.picker.setVisible(choice is not None)
        if choice is not None:
            self.picker.set_choice(choice, self._demo)
        self._listed = choice is not None

    def model_choice(self) -> ModelChoice | None:
        """The model chosen in the list with its style and prompt; None when no list is shown."""
        return self.picker.choice() if self._listed else None

    def generation(self) -> dict:
        return {
            "strategy": self.strategy.currentData(),
            "max_new_tokens": self.max_new_tokens.value(),
            "temperature": self.temperature.value(),
            "top_k": self.top_k.value(),
            "top_p": self.top_p.value(),
            "num_beams": self.num_beams.value(),
        }

    def theme_choice(self) -> str:
        return self.theme.currentData()

    def device_choice(self) -> str:
        return self.device.currentData()

    def cpu_threads_choice(self) -> int:
        return self.cpu_threads.currentData()
