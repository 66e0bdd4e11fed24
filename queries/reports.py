"""The DPO's documents: the access report for a data subject and the response to a complaint.

Usage::

    lineage = SubjectLineage(open_query_backend(settings), Pseudonymiser.from_settings(settings))
    report = access_report(lineage, "19811218-9876")  # a JSON-able dict: the portable copy
    pdf = render_pdf(report, lang="sv")  # the document to send
    svg = lineage_picture(report["lineage"])  # the data flows as a picture
"""

from pdtrail.queries._report_data import REPORT_ROWS, access_report, complaint_report, recipients
from pdtrail.queries._report_integrity import integrity_check
from pdtrail.queries._report_pdf import render_pdf
from pdtrail.queries._report_picture import lineage_drawing, lineage_picture
from pdtrail.queries._report_text import LANGS

__all__ = [
    "LANGS",
    "REPORT_ROWS",
    "access_report",
    "complaint_report",
    "integrity_check",
    "lineage_drawing",
    "lineage_picture",
    "recipients",
    "render_pdf",
]
