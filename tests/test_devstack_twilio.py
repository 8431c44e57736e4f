"""`make run` brings the Twilio sandbox along unless a real Twilio account is configured."""

from smsplatform.devstack.__main__ import DATA, _dotenv_sets, twilio_sandbox_process
from smsplatform.sandboxes.twilio import dev_credentials


def test_without_a_twilio_account_the_sandbox_runs_and_the_platform_points_at_it():
    env = {}
    command = twilio_sandbox_process(env, 8021)["twilio"]
    account_sid, auth_token = dev_credentials()
    assert "manage.py twilio_sandbox --port 8021" in command
    assert f"--state-dir {DATA / 'twilio-sandbox'}" in command
    assert f"--account-sid {account_sid} --auth-token {auth_token}" in command
    assert env["TWILIO_ACCOUNT_SID"] == account_sid
    assert env["TWILIO_AUTH_TOKEN"] == auth_token
    assert env["TWILIO_API_BASE"] == "http://127.0.0.1:8021/api"
    assert env["TWILIO_MESSAGING_BASE"] == "http://127.0.0.1:8021/messaging"
    assert env["TWILIO_TRUSTHUB_BASE"] == "http://127.0.0.1:8021/trusthub"
    assert env["TWILIO_EVENTS_BASE"] == "http://127.0.0.1:8021/events"
    assert env["TWILIO_ISV_PRIMARY_PROFILE_SID"] in command


def test_the_same_dev_account_on_every_run_so_saved_state_still_matches():
    assert twilio_sandbox_process({}, 8001) == twilio_sandbox_process({}, 8001)


def test_a_configured_twilio_account_is_used_instead():
    env = {"TWILIO_ACCOUNT_SID": "AC" + "9" * 32}
    assert twilio_sandbox_process(env, 8001) == {}
    assert env == {"TWILIO_ACCOUNT_SID": "AC" + "9" * 32}


def test_an_account_in_the_dotenv_file_counts_too(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("# TWILIO_ACCOUNT_SID=ACcommented\nTWILIO_ACCOUNT_SID=\n")
    assert not _dotenv_sets(dotenv, "TWILIO_ACCOUNT_SID")
    dotenv.write_text("DEBUG=1\nexport TWILIO_ACCOUNT_SID='AC123'\n")
    assert _dotenv_sets(dotenv, "TWILIO_ACCOUNT_SID")
    assert not _dotenv_sets(tmp_path / "missing", "TWILIO_ACCOUNT_SID")
