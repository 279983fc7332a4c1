"""Drive the Polysync emulator with the official Databricks SDK for Python, unmodified.

Run by `check.sh` (which starts the emulator and passes its URL and token). Every step asserts a
real outcome; any exception or failed assertion exits non-zero. Prints one closing line in the form
`sdk-compat: N passed, M failed` so CI logs read like a test runner's.
"""

import base64
import sys
import time
import traceback
from datetime import timedelta

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import OperationFailed
from databricks.sdk.service import jobs, pipelines, workspace

HOST, TOKEN, OAUTH_ID, OAUTH_SECRET = sys.argv[1:5]
NB_DIR = "/Users/sdk-compat@example.com"
OK_NB = f"{NB_DIR}/ok"
FAIL_NB = f"{NB_DIR}/fails"
CLUSTER = "0000-000000-emulator"

w = WorkspaceClient(host=HOST, token=TOKEN, auth_type="pat")
checks = []


def check(fn):
    checks.append(fn)
    return fn


@check
def current_user():
    me = w.current_user.me()
    assert me.user_name, me


@check
def oauth_m2m_service_principal():
    sp = WorkspaceClient(host=HOST, client_id=OAUTH_ID, client_secret=OAUTH_SECRET,
                         auth_type="oauth-m2m")
    assert sp.current_user.me().user_name
    assert isinstance(list(sp.jobs.list(limit=1)), list)


@check
def workspace_import_list_export():
    w.workspace.mkdirs(NB_DIR)
    src = '# Databricks notebook source\n# emulator: duration=2s\nname = dbutils.widgets.get("name")\n\n# COMMAND ----------\n\ndbutils.notebook.exit("hello from sdk")\n'
    w.workspace.import_(OK_NB, content=base64.b64encode(src.encode()).decode(),
                        format=workspace.ImportFormat.SOURCE, language=workspace.Language.PYTHON,
                        overwrite=True)
    bad = '# Databricks notebook source\n# emulator: outcome=FAILED duration=1s message="boom from sdk"\n'
    w.workspace.import_(FAIL_NB, content=base64.b64encode(bad.encode()).decode(),
                        format=workspace.ImportFormat.SOURCE, language=workspace.Language.PYTHON,
                        overwrite=True)
    paths = sorted(o.path for o in w.workspace.list(NB_DIR))
    assert paths == [FAIL_NB, OK_NB], paths
    kinds = {o.object_type for o in w.workspace.list(NB_DIR)}
    assert kinds == {workspace.ObjectType.NOTEBOOK}, kinds
    exported = w.workspace.export(OK_NB, format=workspace.ExportFormat.SOURCE)
    text = base64.b64decode(exported.content).decode()
    assert 'dbutils.notebook.exit("hello from sdk")' in text, text
    jup = w.workspace.export(OK_NB, format=workspace.ExportFormat.JUPYTER)
    assert b'"nbformat"' in base64.b64decode(jup.content)


@check
def jobs_create_run_now_and_output():
    created = w.jobs.create(
        name="sdk-compat-job",
        tasks=[jobs.Task(task_key="main", existing_cluster_id=CLUSTER,
                         notebook_task=jobs.NotebookTask(notebook_path=OK_NB))],
    )
    assert created.job_id
    got = w.jobs.get(created.job_id)
    assert got.settings.name == "sdk-compat-job"
    run = w.jobs.run_now(job_id=created.job_id).result(timeout=timedelta(minutes=2))
    assert run.state.life_cycle_state == jobs.RunLifeCycleState.TERMINATED, run.state
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state
    task_run_id = run.tasks[0].run_id
    out = w.jobs.get_run_output(task_run_id)
    assert out.notebook_output.result == "hello from sdk", out
    listed = [j.job_id for j in w.jobs.list(name="sdk-compat-job")]
    assert created.job_id in listed, listed


@check
def jobs_submit_one_off_and_failure():
    run = w.jobs.submit(
        run_name="sdk-compat-submit",
        tasks=[jobs.SubmitTask(task_key="t", existing_cluster_id=CLUSTER,
                               notebook_task=jobs.NotebookTask(notebook_path=OK_NB,
                                                               base_parameters={"name": "x"}))],
    ).result(timeout=timedelta(minutes=2))
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state
    out = w.jobs.get_run_output(run.tasks[0].run_id)
    assert out.notebook_output.result == "hello from sdk", out
    # A failed task makes the parent run report life_cycle_state INTERNAL_ERROR (as Databricks does
    # for multi-task-format runs), so the SDK's waiter raises OperationFailed with the task message.
    waiter = w.jobs.submit(
        run_name="sdk-compat-fail",
        tasks=[jobs.SubmitTask(task_key="t", existing_cluster_id=CLUSTER,
                               notebook_task=jobs.NotebookTask(notebook_path=FAIL_NB))],
    )
    try:
        waiter.result(timeout=timedelta(minutes=2))
        raise AssertionError("a FAILED notebook must make .result() raise")
    except OperationFailed as e:
        assert "boom from sdk" in str(e), e
    failed = w.jobs.get_run(waiter.run_id)
    assert failed.state.result_state == jobs.RunResultState.FAILED, failed.state
    out = w.jobs.get_run_output(failed.tasks[0].run_id)
    assert "boom from sdk" in (out.error or ""), out


@check
def pipelines_update_to_completed():
    created = w.pipelines.create(name="sdk-compat-pipeline", development=True,
                                 libraries=[pipelines.PipelineLibrary(
                                     notebook=pipelines.NotebookLibrary(path=OK_NB))])
    pid = created.pipeline_id
    assert pid
    update_id = w.pipelines.start_update(pid, full_refresh=False).update_id
    deadline = time.time() + 120
    state = None
    while time.time() < deadline:
        state = w.pipelines.get_update(pid, update_id).update.state
        if state in (pipelines.UpdateInfoState.COMPLETED, pipelines.UpdateInfoState.FAILED,
                     pipelines.UpdateInfoState.CANCELED):
            break
        time.sleep(0.5)
    assert state == pipelines.UpdateInfoState.COMPLETED, state
    assert any(p.pipeline_id == pid for p in w.pipelines.list_pipelines())


passed = failed = 0
for fn in checks:
    try:
        fn()
        passed += 1
        print(f"ok   {fn.__name__}")
    except Exception:  # noqa: BLE001 — report every failure, keep going
        failed += 1
        print(f"FAIL {fn.__name__}")
        traceback.print_exc()
print(f"sdk-compat: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
