"""The reports: the per-letter report (XLSX or CSV) and the costs per cost code (CSV for a
finance system), read from the store as streams and written by :mod:`.writers`.

:func:`write_letters_report` and :func:`write_costs_report` are what the CLI (``gateway
report``) and the console call.
"""
from gateway.reports.period import Period, period
from gateway.reports.run import FORMATS, Source, write_costs_report, write_letters_report

__all__ = ["FORMATS", "Period", "Source", "period", "write_costs_report", "write_letters_report"]
