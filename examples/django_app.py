"""A one-file Django project that adds strew tasks from its views (docs/integrations.md).

Settings are configured in code to keep it to one file; in a real project the SyncDocket
lives in a module of your app (``myapp/tasks.py``) and views import it.

    python django_app.py runserver
"""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from strew.sync import SyncDocket

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="only-for-this-example",
        ALLOWED_HOSTS=["localhost", "127.0.0.1", "testserver"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
    )

sent: list[str] = []


async def send_receipt(order_id: int) -> None:
    sent.append(f"receipt for order {order_id}")  # a real app would send an email here


tasks = [send_receipt]

# Nothing connects until the first call; each process (pre-fork worker) opens its own.
docket = SyncDocket("shop", url=os.environ.get("STREW_URL"))


@csrf_exempt
@require_POST
def checkout(request: HttpRequest) -> JsonResponse:
    order_id = int(request.POST["order_id"])
    execution = docket.add(send_receipt, key=f"receipt:{order_id}")(order_id)
    return JsonResponse({"key": execution.key, "disposition": execution.disposition.name})


urlpatterns = [path("checkout/", checkout)]


if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
