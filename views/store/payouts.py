"""A store's money: its own payment statements (and nothing of any other store), and its
transfer account: what is on record, and a request to change it (approved by the secretariat
before it takes effect)."""

from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.renderers import render_to_response
from pyramid.response import Response
from pyramid.view import view_config

from kariya.errors import DomainError
from kariya.models import Store
from kariya.payouts import bank_accounts, batches, statements
from kariya.security import P
from views.secretariat.payouts import xlsx_response
from workflows import store as store_wf
from workflows.binding import label


@view_config(
    route_name="store.statements",
    renderer="store/statements.jinja2",
    permission=P.STORE_STATEMENTS_VIEW,
    request_method="GET",
)
def statements_index(request):
    return {
        "lines": batches.store_lines(request.db, request.identity.store_id),
        "line_status": statements.LINE_STATUS,
    }


@view_config(
    route_name="store.statement_xlsx", permission=P.STORE_STATEMENTS_VIEW, request_method="GET"
)
def statement_xlsx(request):
    batch, line = _own_line(request)
    return xlsx_response(
        statements.store_statement_xlsx(request.db, batch, line), f"statement_batch{batch.id}.xlsx"
    )


@view_config(
    route_name="store.statement_pdf", permission=P.STORE_STATEMENTS_VIEW, request_method="GET"
)
def statement_pdf(request):
    batch, line = _own_line(request)
    return Response(
        body=statements.store_statement_pdf(request.db, batch, line),
        content_type="application/pdf",
        content_disposition=f'attachment; filename="statement_batch{batch.id}.pdf"',
    )


def _own_line(request):
    """This store's line in the batch asked for; 404 for anything else."""
    batch_id = int(request.matchdict["id"])
    for batch, line in batches.store_lines(request.db, request.identity.store_id):
        if batch.id == batch_id:
            return batch, line
    raise HTTPNotFound()


# -- the transfer account ----------------------------------------------------------------------


def _values(request, store: Store, error=None, problems=(), form=None) -> dict:
    return {
        "store": store,
        "current": bank_accounts.describe(store),
        "open": bank_accounts.open_request(request.db, store.id),
        "requests": bank_accounts.requests_of(request.db, store.id),
        "describe": bank_accounts.describe,
        "state_label": lambda s: label(store_wf.BANK_CHANGE, s),
        "error": error,
        "problems": problems,
        "form": form or {},
    }


@view_config(
    route_name="store.bank",
    renderer="store/bank.jinja2",
    permission=P.STORE_BANK_REQUEST,
    request_method="GET",
)
def bank_account(request):
    return _values(request, request.db.get(Store, request.identity.store_id))


@view_config(route_name="store.bank", permission=P.STORE_BANK_REQUEST, request_method="POST")
def request_bank_change(request):
    store = request.db.get(Store, request.identity.store_id)
    form = {k: request.POST.get(k, "") for k in (*bank_accounts.FIELDS, "note")}
    try:
        req = bank_accounts.request_change(
            request.db,
            request.clock,
            request.kariya_settings,
            store,
            form,
            actor=request.identity.actor,
        )
    except DomainError as exc:
        problems = exc.details if isinstance(exc.details, list) else ()
        response = render_to_response(
            "store/bank.jinja2",
            _values(request, store, exc.message, problems, form),
            request=request,
        )
        response.status = exc.status  # the transaction aborts: nothing written, no mail
        return response
    request.enqueue("kariya.mail.send")
    request.session.flash(
        f"振込先口座の変更を申請しました(申請番号 {req.id})。事務局から登録済みの電話番号へ"
        "確認のお電話をしたうえで承認します。承認されるまでは、これまでの口座へお振込みします。"
    )
    return HTTPFound(request.route_url("store.bank"))


@view_config(
    route_name="store.bank_withdraw", permission=P.STORE_BANK_REQUEST, request_method="POST"
)
def withdraw_bank_change(request):
    req = bank_accounts.get(
        request.db, int(request.matchdict["id"]), store_id=request.identity.store_id
    )
    bank_accounts.withdraw(request.db, request.clock, req, actor=request.identity.actor)
    request.session.flash(f"口座変更申請(申請番号 {req.id})を取り下げました。")
    return HTTPFound(request.route_url("store.bank"))
