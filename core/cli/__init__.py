"""The headless commands (`main`): `visioncap caption` and `visioncap import-hf`, their output CSV (`output`) and writing captions out batch by batch (`writes`)."""
