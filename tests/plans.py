"""Asking PostgreSQL whether an index can serve a query, on a test's few rows."""


def forbid_scans_and_sorts(cursor) -> None:
    """For the rest of the transaction, make scanning a table and sorting rows the last resort.

    On a test's few rows either is cheaper than an index, so the planner rightly
    skips it: a sequential scan, or the rows read by key and sorted by distance
    (what a full run chose once, its statistics covering earlier tests' rows).
    With both forbidden, a plan names the index exactly when the index can
    serve the ordered search.
    """
    cursor.execute("SET LOCAL enable_seqscan = off")
    cursor.execute("SET LOCAL enable_sort = off")
