#!/usr/bin/env python3
"""A backend written for Tencent Cloud IM, pointed at Tidings, unchanged but for its base URL.

It talks to the server only through the third-party REST client `tencentcloud-sdk-python-im`
(PyPI; module `tencentcloud_im`, which signs its admin UserSigs with Tencent's `tls-sig-api-v2`
and posts JSON bodies without a Content-Type header), the way a Django or Flask backend written
for Tencent's cloud does: it imports accounts, creates a group, adds members, sends C2C and group
messages, marks a C2C conversation read, and reads unread counts and history.

It starts nothing: point it at a running server.

    python3 -m pip install 'tencentcloud-sdk-python-im==0.9.4' 'tls-sig-api-v2==1.1' 'requests==2.34.2'
    TIDINGS_URL=http://127.0.0.1:8080 TIDINGS_SECRET_KEY=... python3 scripts/rest_client_check.py

Environment:
    TIDINGS_URL          the server's base URL (required), e.g. http://127.0.0.1:8080
    TIDINGS_SECRET_KEY   the UserSig signing key (required)
    TIDINGS_SDKAPPID     the SDKAppID (default 1400000000)
    TIDINGS_ADMIN        the App administrator (default administrator)
    TIDINGS_USER_PREFIX  prefix of the users it creates (default py): <prefix>_alice, _bob, _carol

On success it prints one JSON line (the group ID, the C2C MsgKeys, online statuses) and exits 0;
otherwise it names the failed step on stderr and exits 1.
"""

import json
import os
import sys
import time

try:
    from tencentcloud_im.tcim_client import (
        BatchMessageObj,
        GroupMemObj,
        GroupObj,
        MessageFile,
        MessageObj,
        MessageText,
        TCIMClient,
    )
except ImportError as error:  # pragma: no cover - depends on the machine
    sys.exit(
        f"cannot import the REST client ({error}): python3 -m pip install "
        "'tencentcloud-sdk-python-im==0.9.4' 'tls-sig-api-v2==1.1' 'requests==2.34.2'"
    )


class CheckFailed(Exception):
    pass


def ok(step, response):
    """The reply of a successful call, as a dict; raises naming `step` otherwise."""
    if response is None:
        raise CheckFailed(f"{step}: the client could not send the request")
    if response.status_code != 200:
        raise CheckFailed(f"{step}: HTTP {response.status_code}: {response.text}")
    reply = response.json()
    if reply.get("ActionStatus") != "OK" or reply.get("ErrorCode") != 0:
        raise CheckFailed(f"{step}: {reply}")
    return reply


def expect(step, condition, detail):
    if not condition:
        raise CheckFailed(f"{step}: {detail}")


def texts(msg_body):
    return [e["MsgContent"].get("Text") for e in msg_body if e["MsgType"] == "TIMTextElem"]


def main():
    base = os.environ["TIDINGS_URL"].rstrip("/")
    sdkappid = int(os.environ.get("TIDINGS_SDKAPPID", "1400000000"))
    key = os.environ["TIDINGS_SECRET_KEY"]
    admin = os.environ.get("TIDINGS_ADMIN", "administrator")
    prefix = os.environ.get("TIDINGS_USER_PREFIX", "py")
    alice, bob, carol = (f"{prefix}_{name}" for name in ("alice", "bob", "carol"))

    # The only change from a Tencent deployment: the base URL.
    client = TCIMClient(sdkappid, key, admin, tencent_url=f"{base}/v4")

    # Accounts.
    ok("account_import", client.add_single_user(alice, "Alice", "https://example.invalid/a.png"))
    reply = ok("multiaccount_import", client.batch_add_users([bob, carol]))
    expect("multiaccount_import", not reply.get("FailAccounts"), reply)
    reply = ok("account_check", client.search_user([alice, bob, carol]))
    statuses = {item["UserID"]: item["AccountStatus"] for item in reply["ResultItem"]}
    expect("account_check", set(statuses.values()) == {"Imported"}, reply)
    reply = ok("query_online_status", client.check_user_online([bob, carol]))
    online = {item["To_Account"]: item["Status"] for item in reply["QueryResult"]}

    # A group with members.
    group = GroupObj(alice, "Private", f"{prefix} team", mem_list=[GroupMemObj(bob)])
    group_id = ok("create_group", client.create_group(group))["GroupId"]
    reply = ok("add_group_member", client.add_group_member(group_id, [GroupMemObj(carol)]))
    expect("add_group_member", reply["MemberList"] == [{"Member_Account": carol, "Result": 1}], reply)
    reply = ok("get_group_member_info", client.get_group_mem_info_detail(group_id))
    members = {m["Member_Account"]: m["Role"] for m in reply["MemberList"]}
    expect("get_group_member_info", members == {alice: "Owner", bob: "Member", carol: "Member"}, reply)
    reply = ok("get_group_info", client.get_group_detail([group_id]))
    info = reply["GroupInfo"][0]
    expect("get_group_info", (info["Type"], info["MemberNum"]) == ("Private", 3), reply)

    # C2C messages: text with custom data, text with a file, one to several users.
    hello = MessageObj(alice, bob, [MessageText("hello bob")], extra_data="order:42")
    first = ok("sendmsg", client.send_message(hello))["MsgKey"]
    attachment = MessageFile("https://example.invalid/f.pdf", 1024, "f.pdf")
    with_file = MessageObj(alice, bob, [MessageText("the file")], [attachment])
    second = ok("sendmsg with a file", client.send_message(with_file))["MsgKey"]
    batch = BatchMessageObj(alice, [bob, carol], [MessageText("to both")])
    reply = ok("batchsendmsg", client.batch_send_message(batch))
    expect("batchsendmsg", not reply.get("ErrorList"), reply)

    # A group message.
    reply = ok(
        "send_group_msg",
        client.send_group_message(group_id, [MessageText("hello group")], from_account=alice),
    )
    group_seq = reply["MsgSeq"]

    # Unread counts, marking read, and the counts again.
    reply = ok("get_c2c_unread_msg_num", client.get_unread_num(bob, [alice]))
    expect("get_c2c_unread_msg_num", reply["C2CUnreadMsgNumList"][0]["C2CUnreadMsgNum"] == 3, reply)
    reply = ok("get_c2c_unread_msg_num (total)", client.get_unread_num(bob))
    expect("get_c2c_unread_msg_num (total)", reply["AllC2CUnreadMsgNum"] == 3, reply)
    ok("admin_set_msg_read", client.set_user_message_read(bob, alice))
    reply = ok("get_c2c_unread_msg_num after reading", client.get_unread_num(bob, [alice]))
    expect("after reading", reply["C2CUnreadMsgNumList"][0]["C2CUnreadMsgNum"] == 0, reply)
    reply = ok("get_c2c_unread_msg_num for carol", client.get_unread_num(carol))
    expect("carol's unread", reply["AllC2CUnreadMsgNum"] == 1, reply)

    # History: C2C (this client uses the earlier From_Account/To_Account names) and group.
    now = int(time.time())
    reply = ok("admin_getroammsg", client.get_message_list(alice, bob, 20, now - 600, now + 600))
    expect("admin_getroammsg", (reply["Complete"], reply["MsgCnt"]) == (1, 3), reply)
    by_key = {m["MsgKey"]: m for m in reply["MsgList"]}
    expect("admin_getroammsg", first in by_key and second in by_key, reply)
    expect("admin_getroammsg", texts(by_key[first]["MsgBody"]) == ["hello bob"], reply)
    expect("admin_getroammsg", by_key[first]["CloudCustomData"] == "order:42", reply)
    expect("admin_getroammsg", by_key[second]["MsgBody"] == with_file.MsgBody, reply)
    reply = ok("group_msg_get_simple", client.get_msg_in_group(group_id, 10))
    newest = reply["RspMsgList"][0]
    expect("group_msg_get_simple", newest["MsgSeq"] == group_seq, reply)
    expect("group_msg_get_simple", texts(newest["MsgBody"]) == ["hello group"], reply)
    expect("group_msg_get_simple", newest["From_Account"] == alice, reply)

    # Listings.
    reply = ok("get_joined_group_list", client.get_joined_groups(bob))
    expect("get_joined_group_list", {"GroupId": group_id} in reply["GroupIdList"], reply)
    reply = ok("get_appid_group_list", client.get_group(limit_nm=100))
    expect("get_appid_group_list", {"GroupId": group_id} in reply["GroupIdList"], reply)

    print(json.dumps({"group_id": group_id, "group_seq": group_seq, "c2c_keys": [first, second],
                      "online": online}))


if __name__ == "__main__":
    try:
        main()
    except CheckFailed as failure:
        sys.exit(f"rest_client_check: {failure}")
