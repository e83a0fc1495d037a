"""The secretariat's payout screens: build, submit, export the Zengin file, enter the bank's
results, reconcile (F-1..F-5). Approval is the city's (views/city/payouts.py)."""

from pyramid.httpexceptions import HTTPFound
from pyramid.response import Response
from pyramid.view import view_config

from kariya.campaign import definition
from kariya.errors import DomainError
from kariya.payouts import batches, statements
from kariya.security import P
from workflows import payout as payout_wf
from workflows.binding import label

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def batch_page(request, batch, role: str) -> dict:
    return {
        "batch": batch,
        "rows": statements.batch_rows(request.db, batch),
        "totals": batches.totals(batch),
        "state_label": label(payout_wf.MACHINE, batch.state),
        "line_status": statements.LINE_STATUS,
        "role": role,
    }


def xlsx_response(data: bytes, filename: str) -> Response:
    return Response(
        body=data, content_type=XLSX, content_disposition=f'attachment; filename="{filename}"'
    )


@view_config(
    route_name="secretariat.payouts",
    renderer="secretariat/payouts.jinja2",
    permission=P.SECRETARIAT_PAYOUTS_EDIT,
    request_method="GET",
)
def index(request):
    campaign = definition.latest(request.db)
    return {
        "batches": batches.batches(request.db),
        "reconciliation": batches.reconciliation(request.db, campaign) if campaign else None,
        "label": lambda s: label(payout_wf.MACHINE, s),
    }


@view_config(
    route_name="secretariat.payouts_build",
    permission=P.SECRETARIAT_PAYOUTS_EDIT,
    request_method="POST",
)
def build(request):
    batch = batches.build(
        request.db, request.clock, request.kariya_settings, actor=request.identity.actor
    )
    request.session.flash(f"支払バッチ No.{batch.id}({batch.period_key})を作成しました。")
    return HTTPFound(request.route_url("secretariat.payout", id=batch.id))


@view_config(
    route_name="secretariat.payout",
    renderer="common/payout_batch.jinja2",
    permission=P.SECRETARIAT_PAYOUTS_EDIT,
    request_method="GET",
)
def show(request):
    return batch_page(request, batches.get(request.db, int(request.matchdict["id"])), "secretariat")


@view_config(
    route_name="secretariat.payout_action",
    permission=P.SECRETARIAT_PAYOUTS_EDIT,
    request_method="POST",
)
def act(request):
    db, clock, actor = request.db, request.clock, request.identity.actor
    batch = batches.get(db, int(request.matchdict["id"]))
    action = request.matchdict["action"]
    if action == "submit":
        batches.submit(db, clock, batch, actor=actor)
        message = "市に承認を申請しました。"
    elif action == "redraft":
        batches.redraft(db, clock, batch, actor=actor)
        message = "差戻されたバッチを作り直しました。"
    elif action == "export":
        batches.export(db, clock, batch, request.kariya_settings, actor=actor)
        message = f"振込データを作成しました(振込指定日 {batch.transfer_date:%Y-%m-%d})。"
    elif action == "results":
        upload = request.POST.get("file")
        text = (
            upload.file.read(1024 * 1024).decode("utf-8-sig")
            if getattr(upload, "file", None)
            else request.POST.get("csv", "")
        )
        try:
            batches.record_results(db, clock, batch, batches.parse_results_csv(text), actor=actor)
        except DomainError as exc:
            request.response.status = exc.status
            page = batch_page(request, batch, "secretariat")
            page.update(errors=exc.details or [], error=exc.message)
            from pyramid.renderers import render_to_response

            response = render_to_response("common/payout_batch.jinja2", page, request=request)
            response.status = exc.status  # 4xx: nothing written
            return response
        message = "振込結果を登録しました。"
    else:
        batches.reconcile(db, clock, batch, actor=actor)
        message = "照合を完了しました。"
    request.session.flash(message)
    return HTTPFound(request.route_url("secretariat.payout", id=batch.id))


@view_config(
    route_name="secretariat.payout_zengin",
    permission=P.SECRETARIAT_PAYOUTS_EDIT,
    request_method="GET",
)
def zengin_file(request):
    batch = batches.get(request.db, int(request.matchdict["id"]))
    if not batch.zengin_file:
        raise DomainError("振込データはまだ作成されていません。", code="NOT_EXPORTED", status=409)
    return Response(
        body=batch.zengin_file,
        content_type="text/plain",
        charset="shift_jis",
        content_disposition=f'attachment; filename="zengin_batch{batch.id}.txt"',
    )


@view_config(
    route_name="secretariat.payout_xlsx",
    permission=P.SECRETARIAT_PAYOUTS_EDIT,
    request_method="GET",
)
def xlsx(request):
    batch = batches.get(request.db, int(request.matchdict["id"]))
    return xlsx_response(statements.batch_xlsx(request.db, batch), f"payout_batch{batch.id}.xlsx")
