"""The looks: the self-contained HTML page of a report, its sections, inline SVG, and matplotlib plots.

from gradcheck.html import write_report
write_report(report, "report.html")      # a BackpropReport, or a VJPReport, as one self-contained page
"""

from gradcheck.html.page import render_report, write_report

__all__ = ["render_report", "write_report"]
