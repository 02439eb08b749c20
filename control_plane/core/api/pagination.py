"""Cursor pagination for every list: constant cost per page, stable under inserts."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import pagination, serializers
from rest_framework.exceptions import NotFound


class CursorPagination(pagination.CursorPagination):
    """DRF's cursor pagination, but a bad ``cursor`` or ``limit`` is a 400 naming the
    parameter (DRF answers 404 to a bad cursor and silently ignores a bad limit)."""

    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 500

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise serializers.ValidationError({"cursor": ["Invalid cursor."]}) from None

    def paginate_queryset(self, queryset, request, view=None):
        # A cursor is only base64 of "o=..&r=..&p=..": the position it carries is checked
        # by the ordering field when the page's filter is built.
        try:
            return super().paginate_queryset(queryset, request, view)
        except (DjangoValidationError, ValueError, OverflowError):
            raise serializers.ValidationError({"cursor": ["Invalid cursor."]}) from None

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        field = serializers.IntegerField(min_value=1, max_value=self.max_page_size)
        try:
            return field.run_validation(raw)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({self.page_size_query_param: error.detail}) from None

    def get_schema_operation_parameters(self, view):
        """``limit``'s bounds, as ``get_page_size`` enforces them."""
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                }
        return parameters


class IdCursorPagination(CursorPagination):
    """Oldest first, by id."""

    ordering = "id"
