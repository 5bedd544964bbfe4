"""The admin's permissions on sessions. The model is unmanaged: no table is created."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Session",
            fields=[
                (
                    "session_key",
                    models.CharField(
                        max_length=64,
                        primary_key=True,
                        serialize=False,
                        verbose_name="session key",
                    ),
                ),
            ],
            options={
                "verbose_name": "session",
                "verbose_name_plural": "sessions",
                "permissions": [
                    ("view_secrets", "Can see the secret values of sessions"),
                    ("end_session", "Can end sessions"),
                ],
                "managed": False,
                "default_permissions": ("view",),
            },
        ),
    ]
