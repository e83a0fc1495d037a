"""What the audit log of staff actions calls each action, in Japanese (the city reads it).

An action is named by its route (its `{action}` appended where the route has one:
`city.payout_action.approve`) or by its command (`cli.payouts.approve`). Every route that takes
POST, PUT, PATCH or DELETE has a label here or is listed in NOT_ACTIONS (a test checks it), so a
new action arrives with its words. The machines' own words (event and state labels) stay in
workflows/."""

from __future__ import annotations

LABELS: dict[str, str] = {
    # signing in
    "login": "ログイン",
    "logout": "ログアウト",
    "login.code": "ログイン(2段階認証のコード)",
    "staff.second_factor": "2段階認証の設定",
    "secretariat.second_factor_reset": "2段階認証のリセット",
    "secretariat.login_unlock": "ログイン制限の解除",
    # the city
    "city.halt": "配布の停止",
    "city.resume": "配布の再開",
    "city.payout_action.approve": "支払バッチの承認",
    "city.payout_action.reject": "支払バッチの差し戻し",
    "city.adjustment.approve": "支払額の調整の承認",
    "city.adjustment.reject": "支払額の調整の不承認",
    "city.dashboard_refresh": "事業の状況の再集計",
    "city.exports_start": "データの出力の開始",
    "city.erasure_decide.approve": "個人情報の消去の承認",
    "city.erasure_decide.reject": "個人情報の消去の不承認",
    "city.inquiry_answer": "コールセンターからの報告への回答",
    "city.transfer_decide.approve": "アカウント移行の承認",
    "city.transfer_decide.reject": "アカウント移行の不承認",
    "city.document_event": "文書の版の承認・修正依頼",
    "city.fraud_event": "不正利用の疑いの判断(問題なし・不正と確定)",
    # the secretariat
    "secretariat.tick": "時刻による処理の実行",
    "secretariat.campaign": "キャンペーン設定の保存",
    "secretariat.materials_build": "掲示物の一括作成",
    "secretariat.store_qr_reissue": "店舗のQRコードの再発行",
    "secretariat.stores_import": "店舗一覧(Excel)の読み込み",
    "secretariat.stores_import_apply": "店舗一覧の取り込み",
    "secretariat.stores_import_cancel": "店舗一覧の取り込みの取りやめ",
    "secretariat.store_transition": "店舗の登録状態の変更",
    "secretariat.payouts_build": "支払バッチの作成",
    "secretariat.payout_action.submit": "支払バッチの承認申請",
    "secretariat.payout_action.redraft": "支払バッチの作り直し",
    "secretariat.payout_action.export": "振込データ(全銀ファイル)の作成",
    "secretariat.payout_action.results": "振込結果の登録",
    "secretariat.payout_action.reconcile": "支払バッチの照合完了",
    "secretariat.notices": "登録店へのお知らせ(確認・送信)",
    "secretariat.notice_retry": "お知らせメールの再送",
    "secretariat.bank_request": "振込先口座の変更申請の承認・却下",
    "secretariat.adjustments": "支払額の調整の申請",
    "secretariat.dashboard_refresh": "事業の状況の再集計",
    "secretariat.handover_build": "引き渡しデータの作成",
    "secretariat.erasure_request": "個人情報の消去の申請",
    "secretariat.document_new": "文書の新しい版の作成",
    "secretariat.document_edit": "文書の下書きの編集",
    "secretariat.document_event": "文書の版の提出・公開",
    "secretariat.fraud_scan": "不正利用の検知の実行",
    "secretariat.fraud_event": "不正利用の疑いの調査開始",
    # the call centre
    "callcenter.inquiries": "お問い合わせの受付",
    "callcenter.inquiry_event": "お問い合わせの状態の変更",
    "callcenter.inquiry_link": "お問い合わせへの市民・店舗の関連付け",
    "callcenter.inquiry_note": "お問い合わせへの対応メモ",
    "callcenter.inquiry_transfer": "アカウント移行の申請",
    "callcenter.transfer_withdraw": "アカウント移行の申請の取り下げ",
    # store staff
    "store.void": "利用の取り消し",
    "store.notice_read": "お知らせの確認",
    "store.bank": "振込先口座の変更申請",
    "store.bank_withdraw": "振込先口座の変更申請の取り下げ",
    "store.till": "お店の暗証番号の設定・変更",
    "store.till_off": "お店の暗証番号の入力の取りやめ",
    # the staff JSON API
    "api.staff.inquiries": "お問い合わせの受付(API)",
    "api.staff.inquiry_events": "お問い合わせの状態の変更(API)",
    "api.staff.document_versions": "文書の新しい版の作成(API)",
    "api.staff.document_version": "文書の下書きの編集(API)",
    "api.staff.document_events": "文書の版の操作(API)",
    "api.staff.fraud_case_events": "不正利用の疑いの調査・判断(API)",
    # residents' calls: a member of staff who tries one is refused, and that is recorded
    "api.acquisitions": "割引券の受け取り(市民の操作)",
    "api.me.profile": "プロフィールの登録(市民の操作)",
    "api.redemptions": "割引券の利用(市民の操作)",
    "resident.profile": "プロフィールの登録(市民の画面)",
    "resident.terms": "利用規約への同意(市民の画面)",
    "api.me": "退会(市民の操作)",  # DELETE /api/v1/me
    "resident.withdraw": "退会(市民の画面)",
    # the commands (kariya.audit.commands)
    "cli.load-campaign": "キャンペーンの登録(コマンド)",
    "cli.create-user": "職員アカウントの作成(コマンド)",
    "cli.reset-second-factor": "2段階認証のリセット(コマンド)",
    "cli.import-stores": "店舗一覧の取り込み(コマンド)",
    "cli.demo": "デモデータの登録(コマンド)",
    "cli.payouts.build": "支払バッチの作成(コマンド)",
    "cli.payouts.submit": "支払バッチの承認申請(コマンド)",
    "cli.payouts.approve": "支払バッチの承認(コマンド)",
    "cli.payouts.export": "振込データ(全銀ファイル)の作成(コマンド)",
    "cli.erasure.request": "個人情報の消去の申請(コマンド)",
    "cli.erasure.approve": "個人情報の消去の承認(コマンド)",
    "cli.erasure.reject": "個人情報の消去の不承認(コマンド)",
    "cli.erasure.execute": "個人情報の消去の実行(コマンド)",
}

# Unsafe routes that change nothing, so are no action: the editor's live preview (a POST for
# the length of its text, on every pause in typing). Development stand-ins (`dev.*`) are not
# staff actions either; production has none of them.
NOT_ACTIONS = frozenset({"secretariat.document_preview"})
DEV_PREFIX = "dev."
UNKNOWN = "(存在しないURL)"

# The machines as the log names them beside their records (workflows.binding.TransitionRecord).
MACHINE_TITLES: dict[str, str] = {
    "round": "配布の回",
    "coupon": "割引券",
    "redemption": "利用",
    "store": "店舗",
    "bank_change": "振込先口座の変更申請",
    "payout": "支払バッチ",
    "payout_line": "支払明細",
    "adjustment": "支払額の調整",
    "mail": "メール",
    "material_job": "掲示物の作成",
    "export_job": "データの出力",
    "erasure": "個人情報の消去",
    "inquiry": "お問い合わせ",
    "transfer": "アカウント移行",
    "document": "文書の版",
    "fraud_case": "不正利用の疑い",
}

OUTCOME_LABELS = {
    "done": "実行",
    "refused": "拒否",
    "error": "エラー",
    "aborted": "中止(変更なし)",
}


def label(action: str) -> str:
    if not action:
        return UNKNOWN
    return LABELS.get(action, action)


def is_action(action: str) -> bool:
    """Whether an unsafe request to this route is an action the log keeps."""
    return action not in NOT_ACTIONS and not action.startswith((DEV_PREFIX, "__"))  # __static/
