"""Exports of issued documents: a ZIP of PDFs (per customer or per seller), the register (sales-book style) as CSV
and XLSX for import into 1C, and the УПД / VAT invoice XML in the tax service's EDO format 5.03.

Everything here reads documents as issued (their own number, date, lines and the requisites copied at issue) and
writes nothing. `documents.exports.http` wraps each export in a download response for the admin and the API.
"""
