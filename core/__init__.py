"""VisionCap's Qt-free core.

Importing it first lets idle OpenMP threads sleep instead of spinning (see core/captioning/threads.py):
OpenMP reads that setting once, when torch is imported, and spinning threads are what makes a
busy desktop several times slower.
"""

from core.captioning.threads import configure_openmp

configure_openmp()
