from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Cursor pagination by id: constant cost per page, stable under inserts."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 500
