from __future__ import annotations

from rest_framework import serializers

from control_plane.branches.models import BranchDeployment


class BranchRequestSerializer(serializers.Serializer):
    repo = serializers.CharField(max_length=200)
    branch = serializers.CharField(max_length=255)
    pr = serializers.IntegerField(min_value=1)
    commit = serializers.CharField(max_length=64)
    title = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    author = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    base = serializers.CharField(max_length=63, required=False, default="prod")


class CloseSerializer(serializers.Serializer):
    pr = serializers.IntegerField(min_value=1)
    repo = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class DeploySerializer(serializers.Serializer):
    commit = serializers.CharField(max_length=64)
    deployment = serializers.CharField(max_length=63, required=False, default="prod")


class CiTokenRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class BranchDeploymentSerializer(serializers.ModelSerializer):
    deployment = serializers.CharField(source="name")
    base = serializers.CharField(source="base.name")
    pr = serializers.IntegerField(source="pr_number")

    class Meta:
        model = BranchDeployment
        fields = [
            "deployment",
            "base",
            "repo",
            "pr",
            "branch",
            "commit",
            "title",
            "author",
            "status",
            "created_at",
            "updated_at",
            "last_activity_at",
            "closed_at",
            "delete_after",
            "close_reason",
        ]


class GitHubSettingsSerializer(serializers.Serializer):
    webhook_secret = serializers.CharField(min_length=16, max_length=200)
    api_token = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    api_url = serializers.URLField(required=False, default="https://api.github.com")
    console_url = serializers.URLField(required=False, allow_blank=True, default="")
