"""Connect: the embedded sandbox (default, a child process with its faults and snapshot mode) or a real tenant
(region or URL, client key, API token, OAuth id and secret), with secrets in the OS keyring and a connection test
that reports each credential on its own."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr, ValidationError
from PySide6.QtCore import QElapsedTimer, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cdp_poc_studio.cdp.connection import CdpConnection, CredentialCheck
from cdp_poc_studio.cdp.profiles import DEFAULT_TOKEN_URL, ConnectionProfile, Timeouts
from cdp_poc_studio.cdp.secrets import Credentials, SecretName
from cdp_poc_studio.domain.errors import SecretStoreUnavailable
from cdp_poc_studio.domain.progress import CancelToken
from cdp_poc_studio.roundtrip.scenario import Scenario, TargetSpec
from cdp_poc_studio.sandbox.faults import FaultRule
from cdp_poc_studio.targets.credentials import WHERE
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin, describe_fault
from cdp_poc_studio.targets.settings import REGION_URLS, SavedProfile
from cdp_poc_studio.ui.context import StudioContext
from cdp_poc_studio.ui.pages.base import Page
from cdp_poc_studio.workers.tasks import Job, Report

SANDBOX = "__sandbox__"
SECRET_LABELS = {SecretName.API_TOKEN: "API token", SecretName.OAUTH_CLIENT_SECRET: "OAuth client secret"}
CHECK_LABELS = {"rest": "Guest and Order REST", "batch": "Batch", "oauth": "Audience Export (OAuth)"}
OK, FAILED, NOT_SET = "✔ OK", "✖ Failed", "– Not set"


class ConnectPage(Page):
    """Signals:
    target_changed(): the chosen target (sandbox or a tenant profile) changed; the banner follows it.
    connection_tested(object): a connection test finished, with its list of CredentialCheck.
    faults_changed(): the sandbox's fault rules were read or changed.
    """

    title = "Connect"
    subtitle = "Where the PoC sends data: the embedded sandbox on this laptop, or a customer's CDP tenant."
    target_changed = Signal()
    connection_tested = Signal(object)
    faults_changed = Signal()

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self._results: list[CredentialCheck] | None = None
        # Which credentials were given when the test ran: a check of a credential left empty is "not set".
        self._present: dict[str, bool] = {}
        self._testing = False
        self._missing_profile: str | None = None
        self._keyring_problem: str | None = None
        self._session_only = False
        # The running connection test; a test the user cancelled (or that ran out of time) is forgotten here,
        # and whatever it returns later is ignored.
        self._test_job: Job | None = None
        self._test_ticket: object | None = None
        self._tested_host = ""
        self._test_clock = QElapsedTimer()
        self._test_ticker = QTimer(self)
        self._test_ticker.setInterval(250)
        self._test_ticker.timeout.connect(self._on_test_ticker_timeout)
        # The profile whose secrets the edits show, so that typed secrets are kept before another one is shown.
        self._shown_profile: str | None = None

        self.profile_combo = QComboBox()
        self.profile_combo.setObjectName("profileCombo")
        self.profile_combo.currentIndexChanged.connect(self._on_profile_changed)
        self.new_profile_button = QPushButton("New tenant profile…")
        self.new_profile_button.clicked.connect(self._on_new_profile_clicked)
        self.delete_profile_button = QPushButton("Delete profile")
        self.delete_profile_button.clicked.connect(self._on_delete_profile_clicked)
        top = QHBoxLayout()
        top.addWidget(QLabel("Target:"))
        top.addWidget(self.profile_combo, 1)
        top.addWidget(self.new_profile_button)
        top.addWidget(self.delete_profile_button)

        # -- the sandbox --
        self.sandbox_status = QLabel()
        self.sandbox_status.setObjectName("sandboxStatus")
        self.sandbox_status.setWordWrap(True)
        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.restart_button = QPushButton("Restart")
        self.start_button.clicked.connect(self._on_start_clicked)
        self.stop_button.clicked.connect(lambda: self.context.sandbox.stop())
        self.restart_button.clicked.connect(self._on_restart_clicked)
        status_row = QHBoxLayout()
        status_row.addWidget(self.sandbox_status, 1)
        status_row.addWidget(self.start_button)
        status_row.addWidget(self.stop_button)
        status_row.addWidget(self.restart_button)
        self.snapshot_combo = QComboBox()
        self.snapshot_combo.setObjectName("snapshotCombo")
        self.snapshot_combo.addItem("Immediate: exports see data at once", "immediate")
        self.snapshot_combo.addItem("Nightly: like a real tenant, exports see data from the next day", "nightly")
        self.snapshot_combo.currentIndexChanged.connect(self._on_snapshot_changed)
        self.https_check = QCheckBox("HTTPS, with a self-signed certificate that the studio trusts")
        self.https_check.setObjectName("sandboxHttps")
        self.https_check.toggled.connect(self._on_https_toggled)
        self.snapshot_note = QLabel()
        self.snapshot_note.setWordWrap(True)
        self.faults_list = QListWidget()
        self.faults_list.setObjectName("faultsList")
        self.faults_list.setMaximumHeight(110)
        self.fault_edit = QLineEdit()
        self.fault_edit.setObjectName("faultEdit")
        self.fault_edit.setPlaceholderText("status=429,retry_after=2,rate=0.1  ·  status=503,path=/v2.1/*  ·  "
                                           "latency=200ms  ·  drop,rate=0.02  ·  expire_upload")  # fmt: skip
        self.add_fault_button = QPushButton("Add fault")
        self.add_fault_button.setObjectName("addFault")
        self.remove_fault_button = QPushButton("Remove")
        self.clear_faults_button = QPushButton("Clear all")
        self.add_fault_button.clicked.connect(self._on_add_fault_clicked)
        self.fault_edit.returnPressed.connect(self._on_add_fault_clicked)
        self.remove_fault_button.clicked.connect(self._on_remove_fault_clicked)
        self.clear_faults_button.clicked.connect(lambda: self.apply_faults([]))
        self.fault_error = QLabel()
        self.fault_error.setObjectName("faultError")
        self.fault_error.setWordWrap(True)
        self.fault_error.setStyleSheet("color: #c0392b;")
        fault_row = QHBoxLayout()
        fault_row.addWidget(self.fault_edit, 1)
        fault_row.addWidget(self.add_fault_button)
        fault_row.addWidget(self.remove_fault_button)
        fault_row.addWidget(self.clear_faults_button)
        sandbox_box = QGroupBox("Embedded CDP sandbox (a local process, listening on this laptop only)")
        sandbox_form = QFormLayout(sandbox_box)
        sandbox_form.addRow("Status:", status_row)
        sandbox_form.addRow("Segment snapshot:", self.snapshot_combo)
        sandbox_form.addRow("Protocol:", self.https_check)
        sandbox_form.addRow("", self.snapshot_note)
        sandbox_form.addRow("Faults to rehearse:", self.faults_list)
        sandbox_form.addRow("", fault_row)
        sandbox_form.addRow("", self.fault_error)

        # -- a real tenant --
        self.region_combo = QComboBox()
        self.region_combo.setObjectName("regionCombo")
        for region, url in REGION_URLS.items():
            self.region_combo.addItem(f"{region}  ({url})", region)
        self.region_combo.addItem("Custom URL", "custom")
        self.custom_url_edit = QLineEdit()
        self.custom_url_edit.setPlaceholderText("https://api-engage-eu.sitecorecloud.io")
        self.auth_url_edit = QLineEdit()
        self.auth_url_edit.setObjectName("authUrl")
        self.auth_url_edit.setPlaceholderText(DEFAULT_TOKEN_URL)
        self.auth_url_edit.setToolTip("Where OAuth token requests go (Audience Export). Sitecore's auth host unless "
                                      "the tenant uses another one.")  # fmt: skip
        self.auth_note = QLabel()
        self.auth_note.setObjectName("authNote")
        self.auth_note.setWordWrap(True)
        self.tenant_error = QLabel()
        self.tenant_error.setObjectName("tenantError")
        self.tenant_error.setWordWrap(True)
        self.tenant_error.setStyleSheet("color: #c0392b;")
        self.region_combo.currentIndexChanged.connect(self._on_tenant_edited)
        self.custom_url_edit.editingFinished.connect(self._on_tenant_edited)
        self.auth_url_edit.editingFinished.connect(self._on_tenant_edited)
        # Results belong to the address they were made for: typing another one clears them at once.
        self.custom_url_edit.textEdited.connect(self._on_credentials_typed)
        self.auth_url_edit.textEdited.connect(self._on_credentials_typed)
        tenant_box = QGroupBox("Customer tenant")
        tenant_form = QFormLayout(tenant_box)
        tenant_form.addRow("Region:", self.region_combo)
        tenant_form.addRow("Custom URL:", self.custom_url_edit)
        tenant_form.addRow("OAuth auth host:", self.auth_url_edit)
        tenant_form.addRow("", self.auth_note)
        tenant_form.addRow("", self.tenant_error)
        self.pages = QStackedWidget()
        self.pages.addWidget(sandbox_box)
        self.pages.addWidget(tenant_box)

        # -- credentials (both kinds of target) --
        self.client_key_edit = QLineEdit()
        self.client_key_edit.setObjectName("clientKey")
        self.api_token_edit = QLineEdit()
        self.api_token_edit.setObjectName("apiToken")
        self.api_token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.oauth_id_edit = QLineEdit()
        self.oauth_id_edit.setObjectName("oauthClientId")
        self.oauth_secret_edit = QLineEdit()
        self.oauth_secret_edit.setObjectName("oauthClientSecret")
        self.oauth_secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.client_key_edit.editingFinished.connect(self._on_tenant_edited)
        self.oauth_id_edit.editingFinished.connect(self._on_tenant_edited)
        self.api_token_edit.editingFinished.connect(lambda: self._on_secret_edited(SecretName.API_TOKEN))
        self.oauth_secret_edit.editingFinished.connect(lambda: self._on_secret_edited(SecretName.OAUTH_CLIENT_SECRET))
        for edit in (self.client_key_edit, self.api_token_edit, self.oauth_id_edit, self.oauth_secret_edit):
            edit.textEdited.connect(self._on_credentials_typed)
        self.secret_source = QLabel()
        self.secret_source.setObjectName("secretSource")
        self.secret_source.setWordWrap(True)
        self.keyring_notice = QLabel()
        self.keyring_notice.setObjectName("keyringNotice")
        self.keyring_notice.setWordWrap(True)
        self.keyring_notice.setStyleSheet("color: #b35c00; font-weight: bold;")
        self.clear_secrets_button = QPushButton("Forget the secrets")
        self.clear_secrets_button.setObjectName("forgetSecrets")
        self.clear_secrets_button.setToolTip("Empty the API token and the OAuth client secret of this profile, here "
                                             "and wherever they were kept.")  # fmt: skip
        self.clear_secrets_button.clicked.connect(self._on_clear_secrets_clicked)
        keyring_row = QVBoxLayout()
        keyring_row.addWidget(self.keyring_notice)
        keyring_row.addWidget(self.clear_secrets_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName("testConnection")
        self.test_button.clicked.connect(self.test_connection)
        self.cancel_test_button = QPushButton("Cancel")
        self.cancel_test_button.setObjectName("cancelTest")
        self.cancel_test_button.clicked.connect(self.cancel_test)
        self.cancel_test_button.hide()
        self.test_timer = QLabel()
        self.test_timer.setObjectName("testTimer")
        self.results_table = QTableWidget(0, 3)
        self.results_table.setObjectName("connectionResults")
        self.results_table.setHorizontalHeaderLabels(["Credential", "Result", "Detail"])
        self.results_table.verticalHeader().hide()
        self.results_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.results_table.setWordWrap(True)
        header = self.results_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        # Wide enough for the header and the longest credential's name even before the first test.
        metrics = self.results_table.fontMetrics()
        header.setMinimumSectionSize(metrics.horizontalAdvance("Result") + 30)
        header.setStretchLastSection(True)
        self.results_table.setMinimumHeight(130)
        credentials_box = QGroupBox("Credentials")
        credentials_form = QFormLayout(credentials_box)
        credentials_form.addRow("Client key:", self.client_key_edit)
        credentials_form.addRow("API token:", self.api_token_edit)
        credentials_form.addRow("OAuth client id:", self.oauth_id_edit)
        credentials_form.addRow("OAuth client secret:", self.oauth_secret_edit)
        credentials_form.addRow("", self.secret_source)
        credentials_form.addRow(keyring_row)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.cancel_test_button)
        test_row.addWidget(self.test_timer, 1)
        credentials_form.addRow(test_row)
        credentials_form.addRow(self.results_table)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.pages)
        layout.addWidget(credentials_box, 1)

        context.sandbox.state_changed.connect(self._on_sandbox_state_changed)
        self._fill_profiles()
        self._on_sandbox_state_changed()

    # -- profiles ----------------------------------------------------------------------------------------------

    def _fill_profiles(self, select: str | None = None) -> None:
        with self.loading():
            self.profile_combo.clear()
            self.profile_combo.addItem("Embedded sandbox (local, offline)", SANDBOX)
            for profile in self.context.settings.profiles:
                self.profile_combo.addItem(f"Tenant: {profile.name}", profile.name)
            if self._missing_profile and self.context.settings.profile(self._missing_profile) is None:
                self.profile_combo.addItem(f"Tenant: {self._missing_profile} (not set up on this computer)",
                                           self._missing_profile)  # fmt: skip
            if select is not None:
                self.profile_combo.setCurrentIndex(max(0, self.profile_combo.findData(select)))
        self._show_target()

    @property
    def selected(self) -> str:
        return str(self.profile_combo.currentData() or SANDBOX)

    def current_profile_name(self) -> str:
        return "" if self.selected == SANDBOX else self.selected

    def current_profile(self) -> SavedProfile | None:
        if self.selected == SANDBOX:
            return None
        return self.context.settings.profile(self.selected) or SavedProfile(name=self.selected)

    def real_tenant(self) -> tuple[str, str] | None:
        """(profile name, base URL) when the target is a real tenant, for the banner."""
        profile = self.current_profile()
        if profile is None:
            return None
        return profile.name, profile.api_base_url or "no URL yet"

    def _save_profile(self, profile: SavedProfile) -> None:
        profiles = [p for p in self.context.settings.profiles if p.name != profile.name] + [profile]
        self.context.update_settings(profiles=profiles, last_profile=profile.name)
        self.context.save_settings()

    def _on_new_profile_clicked(self) -> None:
        name = self.context.dialogs.ask_text(self, "New tenant profile", "A name for this tenant (for example "
                                             "acme-uat):")  # fmt: skip
        if not name:
            return
        if name == SANDBOX or self.context.settings.profile(name) is not None:
            self.context.dialogs.error(self, "New tenant profile", f"A profile named {name!r} exists already.")
            return
        try:
            profile = SavedProfile(name=name)
        except ValidationError as exc:
            self.context.dialogs.error(self, "New tenant profile", str(exc.errors()[0]["msg"]))
            return
        self._save_profile(profile)
        self._fill_profiles(select=name)
        self._on_widget_edited()
        self.target_changed.emit()

    def _on_delete_profile_clicked(self) -> None:
        name = self.current_profile_name()
        if not name:
            return
        self.context.update_settings(profiles=[p for p in self.context.settings.profiles if p.name != name])
        self.context.save_settings()
        self.context.secrets.forget(name)
        self._fill_profiles(select=SANDBOX)
        self._on_widget_edited()
        self.target_changed.emit()

    def _on_profile_changed(self) -> None:
        if self._loading:
            return
        self._results = None
        self._show_target()
        self._on_widget_edited()
        self.target_changed.emit()

    def _show_target(self) -> None:
        """Fill the panels and the credentials for the selected target."""
        self.keep_typed_secrets()
        self._abandon_test()
        profile = self.current_profile()
        self._results = None  # results belong to the target they were made for
        self._show_results()
        self.tenant_error.setText("")
        with self.loading():
            if profile is None:
                self._shown_profile = None
                self.pages.setCurrentIndex(0)
                options = self.context.sandbox.options
                self.client_key_edit.setText(options.client_key)
                self.api_token_edit.setText(options.api_token)
                self.oauth_id_edit.setText(options.oauth_client_id)
                self.oauth_secret_edit.setText(options.oauth_client_secret)
                self.secret_source.setText("The sandbox's own local credentials (not secret, never a tenant's).")
                self.keyring_notice.hide()
                self.clear_secrets_button.hide()
                self.delete_profile_button.setEnabled(False)
            else:
                self._shown_profile = profile.name
                self.pages.setCurrentIndex(1)
                self.region_combo.setCurrentIndex(max(0, self.region_combo.findData(profile.choice)))
                self.custom_url_edit.setText(profile.base_url if profile.kind == "custom" and profile.base_url else "")
                self.custom_url_edit.setEnabled(profile.choice == "custom")
                self.auth_url_edit.setText(profile.token_url or "")
                self.client_key_edit.setText(profile.client_key)
                self.oauth_id_edit.setText(profile.oauth_client_id)
                sources = []
                for name, edit in self._secret_edits():
                    value, where = self.context.secrets.get(profile.name, name)
                    edit.setText(value.get_secret_value() if value else "")
                    if where:
                        sources.append(f"{SECRET_LABELS[name]} from the {WHERE[where]}")
                self.secret_source.setText("; ".join(sources) or "Secrets are kept in the OS keyring, never in files.")
                self.delete_profile_button.setEnabled(True)
                self.clear_secrets_button.show()
                self._keyring_problem = self.context.secrets.keyring_available()
                self._session_only = self._keyring_problem is not None
                self._show_keyring_notice()
        self._show_auth_note()
        self.status_changed.emit()

    def _show_auth_note(self) -> None:
        profile = self.current_profile()
        if profile is None:
            self.auth_note.setText("")
            return
        url = self.auth_url_edit.text().strip() or DEFAULT_TOKEN_URL
        self.auth_note.setText(f"OAuth token requests go to {url}; the APIs are at {profile.api_base_url or '…'}.")

    def _secret_edits(self) -> tuple[tuple[SecretName, QLineEdit], ...]:
        return (
            (SecretName.API_TOKEN, self.api_token_edit),
            (SecretName.OAUTH_CLIENT_SECRET, self.oauth_secret_edit),
        )

    def _show_keyring_notice(self) -> None:
        if self._keyring_problem and self.current_profile() is not None:
            problem = self._keyring_problem[:1].upper() + self._keyring_problem[1:]
            self.keyring_notice.setText(
                f"No OS keyring here ({problem}). The secrets you type are kept in memory for this session only: "
                "they stay while the studio is open and are forgotten when it closes."
            )
            self.keyring_notice.show()
        else:
            self.keyring_notice.hide()

    def _on_tenant_edited(self, *_args: object) -> None:
        if self._loading:
            return
        profile = self.current_profile()
        if profile is None:
            return
        region = self.region_combo.currentData()
        self.custom_url_edit.setEnabled(region == "custom")
        try:
            updated = SavedProfile.of_choice(
                profile.name,
                region,
                self.custom_url_edit.text().strip(),
                client_key=self.client_key_edit.text().strip(),
                oauth_client_id=self.oauth_id_edit.text().strip(),
                token_url=self.auth_url_edit.text().strip(),
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            field = {"base_url": "Custom URL", "token_url": "OAuth auth host"}.get(str(error["loc"][0]), "Profile")
            self.tenant_error.setText(f"{field} not saved: {error['msg'].removeprefix('Value error, ')}.")
            self.status_changed.emit()
            return
        self.tenant_error.setText("")
        if updated != profile or self.context.settings.profile(profile.name) is None:
            if updated.api_base_url != profile.api_base_url or updated.token_url != profile.token_url:
                self._abandon_test()
                self._results = None
                self._show_results()
            self._save_profile(updated)
            self._missing_profile = None if self._missing_profile == profile.name else self._missing_profile
        self._show_auth_note()
        self.target_changed.emit()
        self.status_changed.emit()

    def _on_credentials_typed(self, *_args: object) -> None:
        self._abandon_test()
        self._results = None
        self._show_results()
        self.status_changed.emit()

    def _on_secret_edited(self, name: SecretName) -> None:
        profile = self.current_profile()
        if self._loading or profile is None:
            return
        edit = dict(self._secret_edits())[name]
        self._keep_secret(profile.name, name, edit.text())

    def keep_typed_secrets(self) -> None:
        """Keep what is typed in the secret fields for the profile they belong to (the page or profile is left)."""
        if self._shown_profile is None or self._loading:
            return
        for name, edit in self._secret_edits():
            value, _ = self.context.secrets.get(self._shown_profile, name)
            if edit.text() != (value.get_secret_value() if value else ""):
                self._keep_secret(self._shown_profile, name, edit.text())

    def _keep_secret(self, profile: str, name: SecretName, text: str) -> None:
        """An emptied field forgets the secret; a typed one goes to the keyring, else to this session's memory."""
        if not text:
            self.context.secrets.forget_one(profile, name)
            self.secret_source.setText(f"{SECRET_LABELS[name]} forgotten.")
            return
        value = SecretStr(text)
        if not self._session_only:
            try:
                where = self.context.secrets.store(profile, name, value, session_only=False)
            except SecretStoreUnavailable as exc:
                self._keyring_problem = str(exc)
                self._session_only = True
                self._show_keyring_notice()
            else:
                self.secret_source.setText(f"{SECRET_LABELS[name]} kept in the {WHERE[where]}.")
                return
        where = self.context.secrets.store(profile, name, value, session_only=True)
        self.secret_source.setText(f"{SECRET_LABELS[name]} kept in the {WHERE[where]} (until the studio closes).")

    def _on_clear_secrets_clicked(self) -> None:
        profile = self.current_profile()
        if profile is None:
            return
        with self.loading():
            for _name, edit in self._secret_edits():
                edit.clear()
        for name, _edit in self._secret_edits():
            self.context.secrets.forget_one(profile.name, name)
        self.secret_source.setText("The API token and the OAuth client secret of this profile were forgotten.")
        self._on_credentials_typed()

    # -- the sandbox -------------------------------------------------------------------------------------------

    def _on_start_clicked(self) -> None:
        self.context.sandbox.start(self.snapshot_combo.currentData())

    def _on_restart_clicked(self) -> None:
        self.context.sandbox.restart(self.snapshot_combo.currentData())

    def _on_snapshot_changed(self) -> None:
        self._refresh_snapshot_note()
        self._on_widget_edited()

    def _on_https_toggled(self, checked: bool) -> None:
        self.context.sandbox.options.tls = checked  # used at the sandbox's next start
        self._refresh_snapshot_note()
        self._on_widget_edited()

    def _refresh_snapshot_note(self) -> None:
        running = self.context.sandbox.running_snapshot
        chosen = self.snapshot_combo.currentData()
        url = self.context.sandbox.base_url
        if running is not None and url and url.startswith("https:") != self.https_check.isChecked():
            wanted = "HTTPS" if self.https_check.isChecked() else "HTTP"
            self.snapshot_note.setText(f"The running sandbox serves {url.partition(':')[0].upper()}: Restart to "
                                       f"apply {wanted}.")  # fmt: skip
        elif running is not None and running != chosen:
            self.snapshot_note.setText(f"The running sandbox uses the {running} snapshot: Restart to apply {chosen}.")
        elif chosen == "nightly":
            self.snapshot_note.setText("Exports will miss today's data, as on a real tenant, until the sandbox "
                                       "clock passes midnight UTC.")  # fmt: skip
        else:
            self.snapshot_note.setText("")

    def _on_sandbox_state_changed(self, *_args: object) -> None:
        sandbox = self.context.sandbox
        self.sandbox_status.setText(f"<b>{sandbox.state.capitalize()}</b>: {sandbox.detail}")
        self.start_button.setEnabled(sandbox.state in ("stopped", "failed"))
        self.stop_button.setEnabled(sandbox.state == "running")
        self.restart_button.setEnabled(sandbox.state == "running")
        running = sandbox.state == "running"
        for widget in (self.add_fault_button, self.remove_fault_button, self.clear_faults_button):
            widget.setEnabled(running or sandbox.state == "stopped")
        self._refresh_snapshot_note()
        if running:
            self.refresh_faults()
        else:
            self._show_faults([{"spec": s} for s in sandbox.fault_specs])
        self.status_changed.emit()

    def refresh_faults(self) -> None:
        url = self.context.sandbox.base_url
        if not url:
            return

        admin = self.context.sandbox.admin() or SandboxAdmin(url)

        def body(_report: Report, _cancel: CancelToken) -> list[dict[str, Any]]:
            return admin.faults()

        self.context.runner.submit(body, name="sandbox-faults", on_success=self._show_faults,
                                   on_failure=self._on_fault_error)  # fmt: skip

    def _show_faults(self, rules: list[dict[str, Any]]) -> None:
        self.faults_list.clear()
        specs = [rule["spec"] if "spec" in rule else describe_fault(rule) for rule in rules]
        for rule, spec in zip(rules, specs, strict=True):
            fired = rule.get("fired")
            self.faults_list.addItem(f"{spec}" + (f"   (fired {fired}×)" if fired else ""))
        if not rules:
            self.faults_list.addItem("No faults: every request succeeds.")
        self.fault_specs = specs
        self.faults_changed.emit()

    def current_fault_specs(self) -> list[str]:
        return list(self.context.sandbox.fault_specs)

    def _on_add_fault_clicked(self) -> None:
        spec = self.fault_edit.text().strip()
        if not spec:
            return
        try:
            FaultRule.parse(spec)
        except (ValueError, TypeError) as exc:
            self.fault_error.setText(f"{spec!r}: {exc}")
            return
        self.fault_edit.clear()
        self.apply_faults([*self.context.sandbox.fault_specs, spec])

    def _on_remove_fault_clicked(self) -> None:
        row = self.faults_list.currentRow()
        specs = self.context.sandbox.fault_specs
        if 0 <= row < len(specs):
            self.apply_faults(specs[:row] + specs[row + 1 :])

    def apply_faults(self, specs: list[str]) -> None:
        """Replace the sandbox's fault rules (at once when it runs; they are also used at its next start)."""
        self.fault_error.setText("")
        sandbox = self.context.sandbox
        url = sandbox.base_url
        if not url:
            sandbox.fault_specs = list(specs)
            self._show_faults([{"spec": s} for s in specs])
            return

        admin = sandbox.admin() or SandboxAdmin(url)

        def body(_report: Report, _cancel: CancelToken) -> list[dict[str, Any]]:
            return admin.set_faults(specs)

        def done(rules: list[dict[str, Any]]) -> None:
            sandbox.fault_specs = list(specs)
            self._show_faults(rules)

        self.context.runner.submit(body, name="sandbox-faults", on_success=done, on_failure=self._on_fault_error)

    def _on_fault_error(self, exc: BaseException) -> None:
        self.fault_error.setText(f"The sandbox refused: {exc}")

    # -- testing the connection --------------------------------------------------------------------------------

    def connection_target(self) -> tuple[ConnectionProfile, Credentials] | None:
        """The client layer's profile and the credentials as typed on the page; None without an address."""
        if self.selected == SANDBOX:
            base = self.context.sandbox.base_url
            if not base:
                return None
            profile = ConnectionProfile.sandbox(base, ca_file=self.context.sandbox.certificate)
        else:
            saved = self.current_profile()
            assert saved is not None
            try:
                profile = saved.connection_profile()
            except ValueError:
                return None
        credentials = Credentials.of(
            self.client_key_edit.text().strip() or None,
            self.api_token_edit.text() or None,
            self.oauth_id_edit.text().strip() or None,
            self.oauth_secret_edit.text() or None,
        )
        return profile, credentials

    def test_connection(self) -> None:
        """Each credential checked on its own API by `CdpConnection.test_connection`, in a job with a deadline,
        a running timer and a Cancel."""
        self.keep_typed_secrets()
        self._abandon_test()
        target = self.connection_target()
        if target is None:
            self._present = {}
            self._results = [CredentialCheck("rest", False, "no address: start the sandbox, or choose a region")]
            self._show_results()
            self.connection_tested.emit(self._results)
            return
        profile, credentials = target
        seconds = self.context.check_timeout_seconds
        # Every request of the test gives up after the deadline; the page itself gives up then too.
        profile = profile.model_copy(update={"timeouts": Timeouts(connect=seconds, read=seconds, write=seconds,
                                                                  pool=seconds)})  # fmt: skip
        self._present = {"rest": credentials.has_basic, "batch": credentials.has_basic, "oauth": credentials.has_oauth}
        self._results = None
        self._show_results()
        self._testing = True
        self._tested_host = profile.api_base_url
        self.test_button.setEnabled(False)
        self.test_button.setText("Testing…")
        self.cancel_test_button.show()
        self._test_clock.start()
        self._on_test_ticker_timeout()
        self._test_ticker.start()
        self.status_changed.emit()
        request_log = self.context.request_log

        def body(_report: Report, cancel: CancelToken) -> list[CredentialCheck]:
            with CdpConnection(profile, credentials, request_log=request_log) as connection:
                return connection.test_connection(cancel)

        # The test's ticket: an abandoned test's late outcome no longer matches it and is ignored.
        ticket = self._test_ticket = object()

        def done(results: list[CredentialCheck]) -> None:
            if ticket is self._test_ticket:
                self._finish_test(results)

        def failed(exc: BaseException) -> None:
            if ticket is self._test_ticket:
                self._finish_test([CredentialCheck("rest", False, f"the test itself failed: {exc}")])

        def finished() -> None:
            if ticket is self._test_ticket:
                self._end_test()

        job = self.context.runner.submit(body, name="test-connection", on_success=done, on_failure=failed,
                                         on_finished=finished)  # fmt: skip
        if ticket is self._test_ticket and not job.done:
            self._test_job = job

    def _on_test_ticker_timeout(self) -> None:
        if not self._testing:
            return
        elapsed = self._test_clock.elapsed() / 1000
        limit = self.context.check_timeout_seconds
        if elapsed >= limit:
            host = self._tested_host
            message = (f"no answer from {host} within {limit:g} s - the host may have accepted the connection "
                       "without answering: check the URL (region or custom URL), a proxy or a firewall, then try "
                       "again")  # fmt: skip
            self._abandon_test()
            names = [name for name, present in self._present.items() if present] or ["rest"]
            self._finish_test([CredentialCheck(name, False, message) for name in names])
            return
        self.test_timer.setText(f"Testing… {elapsed:.0f} s (gives up after {limit:g} s)")

    def cancel_test(self) -> None:
        """Stop waiting for the running test: its late answer is ignored, and the page is free at once."""
        if not self._testing:
            return
        self._abandon_test()
        self.test_timer.setText("Test cancelled.")

    def _abandon_test(self) -> None:
        job, self._test_job = self._test_job, None
        self._test_ticket = None
        if job is not None and not job.done:
            job.cancel()
        if self._testing:
            self._end_test()

    def _finish_test(self, results: list[CredentialCheck]) -> None:
        self._results = results
        self._end_test()
        self._show_results()
        self.connection_tested.emit(results)

    def _end_test(self) -> None:
        self._testing = False
        self._test_job = None
        self._test_ticket = None
        self._test_ticker.stop()
        self.test_timer.setText("")
        self.test_button.setEnabled(True)
        self.test_button.setText("Test connection")
        self.cancel_test_button.hide()
        self.status_changed.emit()

    def outcome(self, check: CredentialCheck) -> str:
        """What the results table says: OK, Failed, or Not set (a credential left empty is not a failure)."""
        if check.ok:
            return OK
        return FAILED if self._present.get(check.name, True) else NOT_SET

    def failures(self) -> list[CredentialCheck]:
        return [c for c in self._results or [] if self.outcome(c) == FAILED]

    def _show_results(self) -> None:
        results = self._results or []
        self.results_table.setRowCount(len(results))
        for row, check in enumerate(results):
            text = self.outcome(check)
            outcome = QTableWidgetItem(text)
            outcome.setForeground(
                Qt.GlobalColor.darkGreen
                if text == OK
                else (Qt.GlobalColor.red if text == FAILED else Qt.GlobalColor.gray)
            )
            self.results_table.setItem(row, 0, QTableWidgetItem(CHECK_LABELS.get(check.name, check.name)))
            self.results_table.setItem(row, 1, outcome)
            detail = QTableWidgetItem(check.message)
            detail.setToolTip(check.message)
            self.results_table.setItem(row, 2, detail)
        self.results_table.resizeRowsToContents()
        self.status_changed.emit()

    @property
    def results(self) -> list[CredentialCheck] | None:
        return self._results

    # -- scenario <-> widgets ----------------------------------------------------------------------------------

    def load(self, scenario: Scenario) -> None:
        target = scenario.target
        self._missing_profile = None
        if target.kind == "profile" and target.profile and self.context.settings.profile(target.profile) is None:
            self._missing_profile = target.profile
        with self.loading():
            self.snapshot_combo.setCurrentIndex(max(0, self.snapshot_combo.findData(target.snapshot)))
            self.https_check.setChecked(target.tls)
        self._fill_profiles(select=target.profile if target.kind == "profile" else SANDBOX)
        self._refresh_snapshot_note()
        self.target_changed.emit()

    def store(self, scenario: Scenario) -> Scenario:
        snapshot = self.snapshot_combo.currentData()
        if self.selected == SANDBOX:
            target = TargetSpec(kind="sandbox", snapshot=snapshot, tls=self.https_check.isChecked())
        else:
            target = TargetSpec(kind="profile", profile=self.selected, snapshot=scenario.target.snapshot)
        return scenario.model_copy(update={"target": target})

    def shown(self) -> None:
        if self.context.autostart_sandbox and self.selected == SANDBOX and self.context.sandbox.state == "stopped":
            self.context.sandbox.start(self.snapshot_combo.currentData())

    def left(self) -> None:
        self.keep_typed_secrets()

    def is_busy(self) -> bool:
        return self._testing

    def validation_error(self) -> str | None:
        failed = self.failures()
        if self.selected == SANDBOX:
            state = self.context.sandbox.state
            if state == "starting":
                return "the sandbox is starting"
            if state != "running":
                return "start the embedded sandbox (or choose a tenant)"
        else:
            profile = self.current_profile()
            assert profile is not None
            if profile.kind == "custom" and not profile.base_url:
                return "enter the tenant's URL"
            if not self.client_key_edit.text().strip() or not self.api_token_edit.text():
                return "enter the client key and the API token"
        if failed:
            return f"the connection test failed: {failed[0].message}"
        return None
