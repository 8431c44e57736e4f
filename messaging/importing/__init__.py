"""Contact import: an uploaded CSV or Excel file becomes contacts, all or nothing.

files.py    how a file reads (format, encoding, delimiter) and its rows as text
columns.py  what each column holds: suggested from the headers, changed by the person
rows.py     one row → a clean contact or a rejection with its reason (preview and import)
pipeline.py reading and cleaning in a thread of its own, chunk by chunk, as COPY payloads
merge.py    the set-based SQL: staging by COPY, then upsert, consent events, list membership
jobs.py     the lifecycle: upload, preview, start, run in the background, report
"""
