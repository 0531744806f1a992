"""Accelerator families. Each module registers one ``kind``; they are discovered by scanning."""
