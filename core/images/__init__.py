"""Images: reading and preprocessing them (`reading`), the HEIC/AVIF/RAW format plug-ins (`plugins`), and scanning folders for them (`scan`)."""
