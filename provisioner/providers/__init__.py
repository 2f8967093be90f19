"""Providers: what starts and stops workers (base.py is the interface; docs/providers.md)."""
