"""The secretariat's payout screens: build, submit, export the Zengin file, enter the bank's
results, reconcile (F-1..F-5); the stores' requests to change their transfer account; payout
adjustments (a disputed use, a correction). Approvals are the city's (views/city/payouts.py)."""

from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.response import Response
from pyramid.view import view_config, view_defaults

from kariya.campaign import definition
from kariya.errors import DomainError
from kariya.models import Store
from kariya.payouts import (
    adjustments,
    bank_accounts,
    batches,
    reconciliation,
    statements,
    transfers,
)
from kariya.security import P
from workflows import payout as payout_wf
from workflows import store as store_wf
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
        "reconciliation": reconciliation.report(request.db, campaign) if campaign else None,
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


@view_defaults(
    route_name="secretariat.payout_action",
    permission=P.SECRETARIAT_PAYOUTS_EDIT,
    request_method="POST",
)
class BatchSteps:
    """The secretariat's steps on one batch (the route names the step): each calls one service,
    then shows the batch again with what was done."""

    def __init__(self, request):
        self.request = request
        self.batch = batches.get(request.db, int(request.matchdict["id"]))
        self.args = (request.db, request.clock, self.batch)
        self.actor = request.identity.actor

    def _done(self, message: str):
        self.request.session.flash(message)
        return HTTPFound(self.request.route_url("secretariat.payout", id=self.batch.id))

    @view_config(match_param="action=submit")
    def submit(self):
        batches.submit(*self.args, actor=self.actor)
        return self._done("市に承認を申請しました。")

    @view_config(match_param="action=redraft")
    def redraft(self):
        batches.redraft(*self.args, actor=self.actor)
        return self._done("差戻されたバッチを作り直しました。")

    @view_config(match_param="action=export")
    def export(self):
        transfers.export(*self.args, self.request.kariya_settings, actor=self.actor)
        day = self.batch.transfer_date
        return self._done(f"振込データを作成しました(振込指定日 {day:%Y-%m-%d})。")

    @view_config(match_param="action=results")
    def results(self):
        upload = self.request.POST.get("file")
        text = (
            upload.file.read(1024 * 1024).decode("utf-8-sig")
            if getattr(upload, "file", None)
            else self.request.POST.get("csv", "")
        )
        try:
            lines = transfers.parse_results_csv(text)
            transfers.record_results(*self.args, lines, actor=self.actor)
        except DomainError as exc:
            page = batch_page(self.request, self.batch, "secretariat")
            page.update(errors=exc.details or [], error=exc.message)
            response = render_to_response("common/payout_batch.jinja2", page, request=self.request)
            response.status = exc.status  # 4xx: nothing written
            return response
        return self._done("振込結果を登録しました。")

    @view_config(match_param="action=reconcile")
    def reconcile(self):
        transfers.reconcile(*self.args, actor=self.actor)
        return self._done("照合を完了しました。")


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


# -- the stores' transfer accounts -------------------------------------------------------------


def _bank_label(state: str) -> str:
    return label(store_wf.BANK_CHANGE, state)


@view_config(
    route_name="secretariat.bank_requests",
    renderer="secretariat/bank_requests.jinja2",
    permission=P.SECRETARIAT_BANK_DECIDE,
    request_method="GET",
)
def bank_requests(request):
    return {
        "pending": bank_accounts.pending(request.db),
        "decided": bank_accounts.recent_decided(request.db),
        "describe": bank_accounts.describe,
        "state_label": _bank_label,
    }


def _bank_detail(request, req, error=None, reason="") -> dict:
    store = request.db.get(Store, req.store_id)
    return {
        "req": req,
        "store": store,
        "current": bank_accounts.describe(store),
        "proposed": bank_accounts.describe(req),
        "warnings": bank_accounts.warnings(req, store) if req.state == "requested" else [],
        "state_label": _bank_label,
        "error": error,
        "reason": reason,
    }


@view_config(
    route_name="secretariat.bank_request",
    renderer="secretariat/bank_request.jinja2",
    permission=P.SECRETARIAT_BANK_DECIDE,
    request_method="GET",
)
def bank_request(request):
    return _bank_detail(request, bank_accounts.get(request.db, int(request.matchdict["id"])))


@view_config(
    route_name="secretariat.bank_request",
    permission=P.SECRETARIAT_BANK_DECIDE,
    request_method="POST",
)
def decide_bank_request(request):
    req = bank_accounts.get(request.db, int(request.matchdict["id"]))
    decision = request.POST.get("decision", "")
    reason = request.POST.get("reason", "")
    args = (request.db, request.clock, request.kariya_settings, req)
    try:
        if decision == "approve":
            notes = bank_accounts.approve(*args, actor=request.identity.actor, reason=reason)
            message = "口座変更を承認しました。振込先を変更しました。" + "".join(notes)
        elif decision == "reject":
            bank_accounts.reject(*args, actor=request.identity.actor, reason=reason)
            message = "口座変更を不承認にしました。振込先は変わりません。"
        else:
            return HTTPFound(request.route_url("secretariat.bank_request", id=req.id))
    except DomainError as exc:
        request.db.expire(req)
        response = render_to_response(
            "secretariat/bank_request.jinja2",
            _bank_detail(request, req, exc.message, reason),
            request=request,
        )
        response.status = exc.status
        return response
    request.enqueue("kariya.mail.send")
    request.session.flash(message + "店舗の登録メールアドレスへお知らせしました。")
    return HTTPFound(request.route_url("secretariat.bank_request", id=req.id))


# -- adjustments -------------------------------------------------------------------------------

ADJUSTMENT_FIELDS = ("store_code", "amount", "reason", "confirmation_code")


def adjustments_page(request, *, error=None, form=None, status=200):
    values = {
        "rows": adjustments.listing(request.db),
        "state_label": adjustments.state_label,
        "error": error,
        "form": form or {},
        "role": "secretariat",
    }
    response = render_to_response("common/adjustments.jinja2", values, request=request)
    response.status = status
    return response


@view_config(
    route_name="secretariat.adjustments",
    permission=P.SECRETARIAT_ADJUSTMENTS_PROPOSE,
    request_method="GET",
)
def adjustments_index(request):
    return adjustments_page(request)


@view_config(
    route_name="secretariat.adjustments",
    permission=P.SECRETARIAT_ADJUSTMENTS_PROPOSE,
    request_method="POST",
)
def propose_adjustment(request):
    form = {k: request.POST.get(k, "") for k in ADJUSTMENT_FIELDS}
    try:
        adjustment = adjustments.propose(
            request.db,
            request.clock,
            actor=request.identity.actor,
            max_amount=request.kariya_settings.adjustments.max_amount,
            **form,
        )
    except DomainError as exc:
        return adjustments_page(request, error=exc.message, form=form, status=exc.status)
    request.session.flash(
        f"調整 No.{adjustment.id}({adjustment.amount:+,}円)を起案しました。市の承認後、次回の支払バッチに入ります。"
    )
    return HTTPFound(request.route_url("secretariat.adjustments"))
