"""Rows in: input files and Hugging Face datasets (`io`, `hfdata`), the task (`task`), and the adapters that map
specialists' outputs onto its labels (`adapters`; generated adapter code runs in `sandbox`)."""
