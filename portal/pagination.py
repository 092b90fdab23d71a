from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination for every list: stable under inserts and cheap on big tables.

    Views set ``ordering`` to an indexed column; the default is newest first by primary key.
    """

    ordering = "-pk"
    page_size_query_param = "limit"
    max_page_size = 500
