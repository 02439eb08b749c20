from django.urls import path, re_path

from control_plane.sso import scim_views as v

urlpatterns = [
    path("ServiceProviderConfig", v.ServiceProviderConfigView.as_view()),
    path("ResourceTypes", v.ResourceTypesView.as_view()),
    path("ResourceTypes/<str:name>", v.ResourceTypesView.as_view()),
    path("Schemas", v.SchemasView.as_view()),
    path("Schemas/<str:schema_id>", v.SchemasView.as_view()),
    path(".search", v.RootSearchView.as_view()),
    path("Users", v.UsersView.as_view()),
    path("Users/.search", v.UserSearchView.as_view()),
    path("Users/<str:pk>", v.UserView.as_view()),
    path("Groups", v.GroupsView.as_view()),
    path("Groups/.search", v.GroupSearchView.as_view()),
    path("Groups/<str:pk>", v.GroupView.as_view()),
    re_path(r"^(?P<rest>.*)$", v.UnknownEndpointView.as_view()),
]
