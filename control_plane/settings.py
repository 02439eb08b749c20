"""Minimal settings; the control-plane foundation replaces this with environment-driven ones."""

SECRET_KEY = "insecure-dev-only"
DEBUG = False
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
