#!/usr/bin/env python3
"""A WebSocket client written only from docs/protocol.md, run against a Tidings server.

It logs users in with UserSigs made by Tencent's own `tls-sig-api-v2`, uses several devices
(connections) per user, and checks the whole flow of the core and read-receipt issues:

- C2C and group messages reach every device, with multi-device echoes;
- exact `unreadCount`s from `getConversationList` (paged by its `orderKey` cursor), and what
  `markC2CMessageAsRead` / `markGroupMessageAsRead` change (and what they do not);
- the badge pushes: `onNewConversation` for a first C2C message and a group one joins,
  `onConversationChanged` to every member for group messages (coalesced) and for a recalled last
  message, `onTotalUnreadMessageCountChanged` after receiving and after marking read;
- `getJoinedGroupList` whole and page by page;
- the read-receipt flow in C2C and in a group: send with `needReadReceipt` -> receivers send
  receipts -> the sender is pushed `onRecvMessageReadReceipts` with exact counts -> pulls counts ->
  pages the read and unread members; a late joiner is refused and not counted, a duplicate receipt
  changes nothing, a leaver stays counted, counts in pushes never go down and the last push equals
  the pull;
- disconnecting every device, missing traffic, reconnecting and catching up through the
  conversation list and history (§14);
- recalling group and C2C messages (`revokeMessage`): every device of every party is pushed
  `onRecvMessageRevoked`, history shows the recall, receipts for it are refused, its counts stay
  readable;
- private receipts (`setReceiptPrivacy`, §12.14): a private reader's C2C and group receipts and
  C2C read reach the reader's other device and nobody else, the sender's pulls, member lists
  and history show the reader as not having read, and turning it off reveals nothing past;
- online status: `subscribeUserStatus`, `getUserStatus`, `setSelfStatus`, and the exact
  `onUserStatusChanged` pushes a subscriber gets when a user's first device logs in, its custom
  status changes and its last device logs out;
- targeted group messages (`receiverList`, §6.6): only the target gets it, the others are told
  by the next message's `prevSeq` that its `seq` is not theirs, have no history entry and no
  unread count for it, and cannot send a receipt for it; @-mentions (`groupAtUserList`) are kept
  with the message and listed in the mentioned members' `groupAtInfoList`;
- profiles: `setSelfInfo` (own profile, fields given only), `getUsersInfo`, the sender's
  `nickName`/`faceURL` on messages as sent, name cards (`setGroupMemberInfo`) in member lists,
  refusals 40601 / 40605 / 40009;
- misuse: each refused with its documented error code and a non-empty `desc`.

It starts nothing: point it at a running server.

    python3 -m pip install 'websockets==17.4' 'tls-sig-api-v2==1.1'
    TIDINGS_URL=ws://127.0.0.1:8080/ws TIDINGS_SECRET_KEY=... python3 scripts/ws_client_check.py

Environment:
    TIDINGS_URL          the WebSocket endpoint (required), e.g. ws://127.0.0.1:8080/ws
    TIDINGS_SECRET_KEY   the UserSig signing key (required)
    TIDINGS_SDKAPPID     the SDKAppID (default 1400000000)
    TIDINGS_USER_PREFIX  prefix of the users and groups it creates (default: ws + random hex)

It prints one line per part and a closing summary, and exits 0; on the first failed check it
names it on stderr and exits 1.
"""

import asyncio
import json
import os
import secrets
import sys
import time

PIP = "python3 -m pip install 'websockets==17.4' 'tls-sig-api-v2==1.1'"

try:
    import TLSSigAPIv2
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed
except ImportError as error:  # pragma: no cover - depends on the machine
    sys.exit(f"cannot import websockets / TLSSigAPIv2 ({error}): {PIP}")

# How long to wait for an expected response or push.
WAIT = 10.0
# How long to watch for a push that must NOT come. The server coalesces group receipt pushes over
# `notify_window_ms` (default 100 ms, §12.6); this is several windows.
QUIET = 0.6


class CheckFailed(Exception):
    pass


CHECKS = 0
REFUSALS = 0


def check(condition, what):
    global CHECKS
    if not condition:
        raise CheckFailed(what)
    CHECKS += 1


def eq(actual, expected, what):
    check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


# ---------------------------------------------------------------------------------------------
# One connection (one device)
# ---------------------------------------------------------------------------------------------


class Conn:
    """One WebSocket connection: requests matched to responses by `id` (§3), every push kept."""

    def __init__(self, name, ws):
        self.name = name
        self.ws = ws
        self.next_id = 1
        self.waiting = {}  # id -> future of the response
        self.null_ids = asyncio.Queue()  # responses whose id is null (§3.4)
        self.seen = []  # every push, in arrival order
        self.since = 0  # index in `seen` from which `wait` looks (see `mark`)
        self.arrived = asyncio.Event()
        self.closed = None
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url, name):
        ws = await connect(url, proxy=None, open_timeout=WAIT)
        return cls(name, ws)

    async def _read(self):
        try:
            async for message in self.ws:
                if isinstance(message, bytes):
                    self.closed = f"unexpected binary frame {message[:40]!r}"
                    continue
                frame = json.loads(message)
                if "event" in frame:
                    if "id" in frame:
                        self.closed = f"a push with an id: {frame}"
                    self.seen.append(frame)
                    event, self.arrived = self.arrived, asyncio.Event()
                    event.set()
                elif frame.get("id") is None:
                    await self.null_ids.put(frame)
                else:
                    future = self.waiting.pop(frame["id"], None)
                    if future is None:
                        self.closed = f"a response nobody waited for: {frame}"
                    elif not future.done():
                        future.set_result(frame)
        except ConnectionClosed as closed:
            self.closed = self.closed or f"connection closed: {closed}"
        finally:
            self.closed = self.closed or "connection closed"
            for future in self.waiting.values():
                if not future.done():
                    future.set_exception(CheckFailed(f"{self.name}: {self.closed}"))
            self.arrived.set()

    async def close(self):
        await self.ws.close()
        await self.reader

    # Requests ---------------------------------------------------------------------------------

    async def call(self, method, params=None):
        """Sends a request and returns its whole response frame."""
        request_id = self.next_id
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.waiting[request_id] = future
        frame = {"id": request_id, "method": method}
        if params is not None:
            frame["params"] = params
        await self.ws.send(json.dumps(frame))
        try:
            response = await asyncio.wait_for(future, WAIT)
        except TimeoutError:
            raise CheckFailed(f"{self.name}: no response to {method} within {WAIT}s") from None
        eq(response.get("id"), request_id, f"{self.name} {method}: response id")
        return response

    async def ok(self, method, params=None):
        """The `data` of a successful call."""
        response = await self.call(method, params)
        if response["code"] != 0:
            raise CheckFailed(
                f"{self.name} {method} {short(params)}: code {response['code']}: {response['desc']}"
            )
        eq(response["desc"], "", f"{self.name} {method}: desc on success")
        return response["data"]

    async def fail(self, method, params, code):
        """Asserts that the call is refused with `code`, a readable `desc` and `data` null."""
        global REFUSALS
        REFUSALS += 1
        response = await self.call(method, params)
        eq(
            (response["code"], response["data"]),
            (code, None),
            f"{self.name} {method} {short(params)}: code ({response['desc']!r})",
        )
        check(
            isinstance(response["desc"], str) and len(response["desc"]) > 5,
            f"{self.name} {method}: error {code} has no explanation: {response}",
        )
        return response["desc"]

    async def raw(self, text):
        """Sends a frame as is and returns the response whose id is null (§3.4)."""
        await self.ws.send(text)
        try:
            return await asyncio.wait_for(self.null_ids.get(), WAIT)
        except TimeoutError:
            raise CheckFailed(f"{self.name}: no response to a raw frame within {WAIT}s") from None

    # Pushes -----------------------------------------------------------------------------------

    def mark(self):
        """From now on, `wait` and `quiet` look only at pushes arriving after this point."""
        self.since = len(self.seen)

    def _find(self, event, pred, since):
        for frame in self.seen[since:]:
            if frame["event"] == event and pred(frame["data"]):
                return frame["data"]
        return None

    async def wait(self, event, pred=lambda data: True, since=None):
        """The first push `event` whose data satisfies `pred`, since the last `mark`."""
        since = self.since if since is None else since
        deadline = time.monotonic() + WAIT
        while True:
            found = self._find(event, pred, since)
            if found is not None:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed:
                recent = [f for f in self.seen[since:] if f["event"] == event]
                raise CheckFailed(
                    f"{self.name}: no matching {event} within {WAIT}s "
                    f"({self.closed or 'open'}); got instead: {short(recent)}"
                )
            try:
                await asyncio.wait_for(self.arrived.wait(), remaining)
            except TimeoutError:
                pass

    async def quiet(self, event, pred=lambda data: True, already_waited=False):
        """Asserts that no push `event` matching `pred` arrived since the last `mark`."""
        if not already_waited:
            await asyncio.sleep(QUIET)
        found = self._find(event, pred, self.since)
        check(found is None, f"{self.name}: unexpected {event}: {short(found)}")


def short(value, limit=400):
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "…"


def mark(*conns):
    for conn in conns:
        conn.mark()


async def quiet_all(conns, event, pred=lambda data: True):
    await asyncio.sleep(QUIET)
    for conn in conns:
        await conn.quiet(event, pred, already_waited=True)


# ---------------------------------------------------------------------------------------------
# Helpers over the protocol
# ---------------------------------------------------------------------------------------------


async def conversations(conn, page=1):
    """Every conversation of the caller, paged `page` at a time (§8 getConversationList)."""
    found, order, next_seq = {}, [], 0
    for _ in range(1000):
        data = await conn.ok("getConversationList", {"nextSeq": next_seq, "count": page})
        for conversation in data["conversationList"]:
            found[conversation["conversationID"]] = conversation
            order.append(conversation["orderKey"])
        if data["isFinished"]:
            break
        eq(len(data["conversationList"]), page, f"{conn.name}: a non-final conversation page")
        # nextSeq is the orderKey of the page's last conversation (§8 getConversationList).
        eq(data["nextSeq"], data["conversationList"][-1]["orderKey"], f"{conn.name}: the cursor")
        next_seq = data["nextSeq"]
    check(order == sorted(order, reverse=True), f"{conn.name}: conversations by orderKey desc")
    eq(len(order), len(set(order)), f"{conn.name}: no two conversations share an orderKey")
    eq(len(order), len(found), f"{conn.name}: no conversation on two pages")
    return found


async def joined_groups(conn):
    """The caller's groups, whole and paged one at a time (§8 getJoinedGroupList)."""
    whole = [g["groupID"] for g in await conn.ok("getJoinedGroupList", {})]
    eq(whole, sorted(whole), f"{conn.name}: joined groups in group ID order")
    paged, after = [], ""
    for _ in range(1000):
        page = await conn.ok("getJoinedGroupList", {"afterGroupID": after, "count": 1})
        paged += [g["groupID"] for g in page]
        if len(page) < 1:
            break
        after = page[-1]["groupID"]
    eq(paged, whole, f"{conn.name}: joined groups paged one by one")
    await conn.fail("getJoinedGroupList", {"count": 0}, 6017)
    return whole


async def unread(conn, conversation_id):
    conversation = (await conversations(conn, page=20)).get(conversation_id)
    check(conversation is not None, f"{conn.name}: {conversation_id} in the conversation list")
    return conversation["unreadCount"]


async def history(conn, stop_at=(), page=1, **target):
    """History newest first, paged with `lastMsgID`, until a msgID in `stop_at` or the end."""
    method = "getC2CHistoryMessageList" if "userID" in target else "getGroupHistoryMessageList"
    messages, last = [], ""
    for _ in range(1000):
        params = dict(target, count=page)
        if last:
            params["lastMsgID"] = last
        batch = await conn.ok(method, params)
        check(len(batch) <= page, f"{conn.name} {method}: page larger than count")
        for message in batch:
            if message["msgID"] in stop_at:
                return messages
            messages.append(message)
        if len(batch) < page:
            return messages
        last = batch[-1]["msgID"]
    raise CheckFailed(f"{conn.name}: {method} does not end")


async def member_list(conn, msg_id, filter_, page=1):
    """The read (0) or unread (1) members of a group message, paged `page` at a time."""
    users, next_seq = [], 0
    for _ in range(1000):
        data = await conn.ok(
            "getGroupMessageReadMemberList",
            {"messageID": msg_id, "filter": filter_, "nextSeq": next_seq, "count": page},
        )
        for member in data["memberInfoList"]:
            check({"userID", "nickName", "faceURL"} <= member.keys(), f"ReadMemberInfo {member}")
            users.append(member["userID"])
        if data["isFinished"]:
            eq(data["nextSeq"], 0, "nextSeq of the last member page")
            break
        eq(len(data["memberInfoList"]), page, "a non-final member page is full")
        next_seq = data["nextSeq"]
    eq(len(users), len(set(users)), f"members listed once ({users})")
    return users


async def counts(conn, *msg_ids):
    """`getMessageReadReceipts` as {msgID: item}."""
    items = await conn.ok("getMessageReadReceipts", {"messageIDList": list(msg_ids)})
    eq([i["msgID"] for i in items], list(msg_ids), "getMessageReadReceipts order")
    return {i["msgID"]: i for i in items}


def group_item(msg_id, group_id, read, unread_):
    """§7.8: every field is present, zero or empty where it does not apply."""
    return {"msgID": msg_id, "userID": "", "groupID": group_id, "isPeerRead": False,
            "timestamp": 0, "readCount": read, "unreadCount": unread_}


def c2c_item(msg_id, user_id, read_at):
    """§7.8: a C2C item; `read_at` 0 while unread."""
    return {"msgID": msg_id, "userID": user_id, "groupID": "", "isPeerRead": read_at != 0,
            "timestamp": read_at, "readCount": 0, "unreadCount": 0}


def has_item(msg_id, read=None):
    """A predicate on onRecvMessageReadReceipts: an item for msg_id (with readCount `read`)."""

    def pred(items):
        return any(i["msgID"] == msg_id and (read is None or i["readCount"] == read) for i in items)

    return pred


def item_of(items, msg_id):
    return next(i for i in items if i["msgID"] == msg_id)


def by_id(msg_id):
    return lambda data: data.get("msgID") == msg_id


def conv_pred(conversation_id, unread_=None):
    def pred(data):
        return any(
            c["conversationID"] == conversation_id
            and (unread_ is None or c["unreadCount"] == unread_)
            for c in data
        )

    return pred


def recalled_last(conversation_id, msg_id):
    """A predicate on onConversationChanged: `conversation_id` whose lastMessage is `msg_id`,
    recalled."""

    def pred(data):
        return any(
            c["conversationID"] == conversation_id
            and (c["lastMessage"] or {}).get("msgID") == msg_id
            and c["lastMessage"]["isRevoked"]
            for c in data
        )

    return pred


def check_monotone(conn):
    """§12.7: across pushes, readCount never goes down, unreadCount never up, sum constant."""
    last = {}
    for frame in conn.seen:
        if frame["event"] != "onRecvMessageReadReceipts":
            continue
        for item in frame["data"]:
            if "groupID" not in item:
                continue
            now = (item["readCount"], item["unreadCount"])
            before = last.get(item["msgID"])
            if before is not None:
                check(
                    now[0] >= before[0] and now[1] <= before[1] and sum(now) == sum(before),
                    f"{conn.name}: counts of {item['msgID']} went from {before} to {now}",
                )
            last[item["msgID"]] = now
    return last


# ---------------------------------------------------------------------------------------------
# The flow
# ---------------------------------------------------------------------------------------------


async def run(url, sdkappid, key, prefix):
    api = TLSSigAPIv2.TLSSigAPIv2(sdkappid, key)
    alice, bob, carol, dave, eve = (f"{prefix}_{n}" for n in ("alice", "bob", "carol", "dave", "eve"))
    nobody = f"{prefix}_nobody"
    gid, live = f"{prefix}_team", f"{prefix}_live"
    # A UserSig that expires one second after it is made; tried at the end (70001).
    expiring, expiring_made = api.gen_sig(alice, 1), time.time()

    async def login(user, name):
        conn = await Conn.open(url, name)
        await conn.ok("login", {"userID": user, "userSig": api.gen_sig(user)})
        return conn

    # --- 1. Envelope and login errors, on a connection that stays usable -----------------------
    raw = await Conn.open(url, "raw")
    await raw.fail("getConversationList", {"count": 10}, 6014)
    await raw.fail("noSuchMethod", {}, 6017)
    for text, what in [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "JSON that is not an object"),
        (json.dumps({"method": "logout"}), "no id"),
        (json.dumps({"id": "7", "method": "logout"}), "a string id"),
        (json.dumps({"id": -1, "method": "logout"}), "a negative id"),
    ]:
        response = await raw.raw(text)
        eq((response["id"], response["code"]), (None, 6017), f"envelope error for {what}")
        check(response["desc"], f"envelope error for {what} explains itself")
    response = await raw.call("logout", [1])  # params neither object nor null
    eq(response["code"], 6017, "params that are an array")
    response = await raw.raw(json.dumps({"id": 1, "method": "x", "params": {"pad": "y" * 70000}}))
    eq((response["id"], response["code"]), (None, 9522), "a text frame over 64 KiB")
    wrong_key = TLSSigAPIv2.TLSSigAPIv2(sdkappid, key + "-forged")
    other_app = TLSSigAPIv2.TLSSigAPIv2(sdkappid + 1, key)
    await raw.fail("login", {"userID": alice, "userSig": ""}, 70002)
    await raw.fail("login", {"userID": alice, "userSig": "not a usersig!"}, 70003)
    await raw.fail("login", {"userID": alice, "userSig": wrong_key.gen_sig(alice)}, 70009)
    await raw.fail("login", {"userID": alice, "userSig": api.gen_sig(bob)}, 70013)
    await raw.fail("login", {"userID": alice, "userSig": other_app.gen_sig(alice)}, 70014)
    await raw.fail("login", {"userID": "has space", "userSig": api.gen_sig("has space")}, 7003)
    await raw.fail("login", {"userID": alice}, 6017)
    await raw.ok("login", {"userID": eve, "userSig": api.gen_sig(eve)})
    e1 = raw
    e1.name = "eve#1"
    await e1.fail("login", {"userID": alice, "userSig": api.gen_sig(alice)}, 6017)
    await e1.ok("login", {"userID": eve, "userSig": api.gen_sig(eve)})  # refresh: allowed
    print("envelope and login: bad frames and forged/other-user/other-app/garbage UserSigs refused")

    # --- 2. Devices ---------------------------------------------------------------------------
    a1, a2 = await login(alice, "alice#1"), await login(alice, "alice#2")
    b1, b2 = await login(bob, "bob#1"), await login(bob, "bob#2")
    c1, d1 = await login(carol, "carol#1"), await login(dave, "dave#1")
    alices, bobs = (a1, a2), (b1, b2)

    # --- 3. C2C on several devices, exact unread counts -------------------------------------
    m1 = await a1.ok(
        "sendMessage",
        {"receiver": bob, "textElem": {"text": "Lunch at 12?"}, "needReadReceipt": True},
    )
    for field, value in [
        ("sender", alice), ("userID", bob), ("isSelf", True), ("isRead", True),
        ("isPeerRead", False), ("receiptPeerRead", False), ("needReadReceipt", True),
        ("hasSentReceipt", False),
        ("elemType", 1), ("textElem", {"text": "Lunch at 12?"}), ("status", 2), ("seq", 1),
    ]:
        eq(m1.get(field), value, f"sendMessage result {field}")
    check("groupID" not in m1, "a C2C message has no groupID")
    m2 = await a2.ok(
        "sendMessage",
        {"receiver": bob, "customElem": {"data": '{"kind":"poll"}', "desc": "poll"},
         "cloudCustomData": "order:42", "random": 77},
    )
    m3 = await a1.ok(
        "sendMessage",
        {"receiver": bob, "textElem": {"text": "fyi"}, "isExcludedFromUnreadCount": True},
    )
    m4 = await a1.ok("sendMessage", {"receiver": bob, "textElem": {"text": "see you"}})
    eq([m["seq"] for m in (m1, m2, m3, m4)], [1, 2, 3, 4], "C2C seq without gaps")
    eq(m2["customElem"], {"data": '{"kind":"poll"}', "desc": "poll", "extension": ""}, "customElem")
    eq((m2["elemType"], m2["cloudCustomData"], m2["random"]), (2, "order:42", 77), "m2 fields")
    for message in (m1, m2, m3, m4):
        for device in bobs:
            got = await device.wait("onRecvNewMessage", by_id(message["msgID"]))
            eq(
                (got["sender"], got["userID"], got["isSelf"], got["isRead"], got["seq"]),
                (alice, alice, False, False, message["seq"]),
                f"{device.name} receives {message['msgID']}",
            )
            eq(got["needReadReceipt"], message["needReadReceipt"], "needReadReceipt is carried")
        for device in alices:  # the multi-device echo, the sending device included
            got = await device.wait("onRecvNewMessage", by_id(message["msgID"]))
            eq((got["isSelf"], got["userID"]), (True, bob), f"{device.name} echo")
    for device in bobs:
        # The first message makes the conversation appear (§9 onNewConversation); later ones
        # change it, and every counted one moves bob's total.
        appeared = await device.wait("onNewConversation", conv_pred(f"c2c_{alice}"))
        eq((appeared[0]["unreadCount"], appeared[0]["lastMessage"]["msgID"]), (1, m1["msgID"]),
           f"{device.name}: onNewConversation of the first message")
        await device.wait("onConversationChanged", conv_pred(f"c2c_{alice}", 3))
        await device.wait("onTotalUnreadMessageCountChanged", lambda total: total == 3)
    for device in alices:
        await device.wait("onNewConversation", conv_pred(f"c2c_{bob}", 0))
    bob_convs = await conversations(b1)
    eq(bob_convs[f"c2c_{alice}"]["unreadCount"], 3, "bob's unread (the excluded one not counted)")
    # getConversation shows the same conversation; the total sums every conversation (bob has one).
    eq(await b1.ok("getConversation", {"conversationID": f"c2c_{alice}"}),
       bob_convs[f"c2c_{alice}"], "getConversation equals the list's item")
    eq(bob_convs[f"c2c_{alice}"]["c2cReadTimestamp"], 0, "bob never marked it read")
    eq(await b1.ok("getTotalUnreadMessageCount", {}),
       sum(c["unreadCount"] for c in bob_convs.values()), "getTotalUnreadMessageCount")
    await b1.fail("getConversation", {"conversationID": f"c2c_{nobody}"}, 20003)
    eq(bob_convs[f"c2c_{alice}"]["lastMessage"]["msgID"], m4["msgID"], "bob's lastMessage")
    eq((bob_convs[f"c2c_{alice}"]["type"], bob_convs[f"c2c_{alice}"]["userID"]), (1, alice), "conv")
    eq(await unread(a1, f"c2c_{bob}"), 0, "alice's own messages are not unread")
    r1 = await b2.ok("sendMessage", {"receiver": alice, "textElem": {"text": "yes!"}})
    eq(r1["seq"], 5, "one sequence per C2C pair")
    for device in alices:
        await device.wait("onConversationChanged", conv_pred(f"c2c_{bob}", 1))
        await device.wait("onTotalUnreadMessageCountChanged", lambda total: total == 1)
    eq(await unread(a2, f"c2c_{bob}"), 1, "alice's unread after bob's reply")
    eq(await unread(b1, f"c2c_{alice}"), 3, "replying does not read")
    print("C2C: 5 messages on 2+2 devices, echoes, exact unread counts 3 and 1")

    # --- 4. C2C read receipts ----------------------------------------------------------------
    mark(*alices, *bobs)
    await b1.ok("sendMessageReadReceipts", {"messageIDList": [m1["msgID"]]})
    for device in alices:
        items = await device.wait("onRecvMessageReadReceipts", has_item(m1["msgID"]))
        eq(len(items), 1, "one C2C receipt item")
        receipt_ts = items[0]["timestamp"]
        check(receipt_ts >= m1["timestamp"], f"receipt timestamp {receipt_ts}")
        eq(items[0], c2c_item(m1["msgID"], bob, receipt_ts), f"{device.name} C2C receipt push")
    got = await b2.wait("onMessageReceiptsSent")
    eq(got, {"messageIDList": [m1["msgID"]]}, "bob's other device learns the receipt was sent")
    await b1.quiet("onMessageReceiptsSent")  # the calling device has its response
    pulled = await counts(a2, m1["msgID"])
    eq(pulled[m1["msgID"]], c2c_item(m1["msgID"], bob, receipt_ts), "C2C pull")
    eq(await unread(b2, f"c2c_{alice}"), 3, "a receipt does not change the reader's unread count")
    seen_by_bob = {m["msgID"]: m for m in await history(b1, userID=alice, page=2)}
    eq(seen_by_bob[m1["msgID"]]["hasSentReceipt"], True, "hasSentReceipt in bob's history")
    eq(seen_by_bob[m4["msgID"]]["hasSentReceipt"], False, "no receipt for m4")
    eq(seen_by_bob[m1["msgID"]]["isRead"], False, "a receipt is not a conversation-level read")
    seen_by_alice = {m["msgID"]: m for m in await history(a1, userID=bob)}
    # §12.10: a receipt sets the message-level receiptPeerRead, not the conversation-level isPeerRead.
    eq((seen_by_alice[m1["msgID"]]["receiptPeerRead"], seen_by_alice[m1["msgID"]]["isPeerRead"]),
       (True, False), "Message.receiptPeerRead after a receipt")
    eq((seen_by_alice[m2["msgID"]]["receiptPeerRead"], seen_by_alice[m2["msgID"]]["isPeerRead"]),
       (False, False), "m2 not read by bob yet")
    # A duplicate (twice in one list, and once more) changes nothing and pushes nothing.
    mark(*alices, *bobs)
    await b2.ok("sendMessageReadReceipts", {"messageIDList": [m1["msgID"], m1["msgID"]]})
    await quiet_all(alices, "onRecvMessageReadReceipts")
    await quiet_all(bobs, "onMessageReceiptsSent")
    eq((await counts(a1, m1["msgID"]))[m1["msgID"]]["timestamp"], receipt_ts, "duplicate: same")
    # Misuse of C2C receipts.
    await a1.fail("sendMessageReadReceipts", {"messageIDList": [m1["msgID"]]}, 6017)  # own
    await b1.fail("sendMessageReadReceipts", {"messageIDList": [m4["msgID"]]}, 10062)  # no receipt
    await c1.fail("sendMessageReadReceipts", {"messageIDList": [m1["msgID"]]}, 10007)  # not to her
    await b1.fail("sendMessageReadReceipts", {"messageIDList": ["1-00000000deadbeef"]}, 10062)
    await b1.fail("sendMessageReadReceipts", {"messageIDList": []}, 6017)
    await b1.fail("sendMessageReadReceipts", {"messageIDList": [m1["msgID"]] * 101}, 6017)
    await b1.fail("getMessageReadReceipts", {"messageIDList": [m1["msgID"]]}, 10007)  # not his
    await a1.fail("getMessageReadReceipts", {"messageIDList": [m4["msgID"]]}, 10062)
    # §12.4 mixed batches: the valid messages are recorded, the others skipped and listed with
    # the code each would have failed with alone, in request order; m1 is a silent repeat.
    got = await b1.ok("sendMessageReadReceipts",
                      {"messageIDList": [m4["msgID"], m1["msgID"], "1-00000000deadbeef"]})
    eq([(i["msgID"], i["code"]) for i in got["skippedList"]],
       [(m4["msgID"], 10062), ("1-00000000deadbeef", 10062)], "skippedList of a mixed batch")
    check(all(i["desc"] for i in got["skippedList"]), "each skip says why")
    await quiet_all(alices, "onRecvMessageReadReceipts")
    # No valid message at all: the call fails with the first message's code.
    await b1.fail("sendMessageReadReceipts", {"messageIDList": [m2["msgID"], m4["msgID"]]}, 10062)
    m5 = await a1.ok("sendMessage", {"receiver": bob, "textElem": {"text": "ok?"},
                                     "needReadReceipt": True})
    eq((await counts(a1, m5["msgID"]))[m5["msgID"]]["isPeerRead"], False, "m5 not receipted")
    print("C2C receipts: pushed to both sender devices, pulled, duplicate silent, misuse refused")

    # --- 5. Conversation-level read in C2C -------------------------------------------------------
    eq(await unread(b1, f"c2c_{alice}"), 4, "bob's unread with m5")
    mark(*alices, *bobs)
    await b2.ok("markC2CMessageAsRead", {"userID": alice})
    for device in bobs:
        await device.wait("onConversationChanged", conv_pred(f"c2c_{alice}", 0))
        await device.wait("onTotalUnreadMessageCountChanged", lambda total: total == 0)
    for device in alices:
        got = await device.wait("onRecvC2CReadReceipt")
        eq(len(got), 1, "one C2C read report")
        eq(got[0]["userID"], bob, "the reader")
        check(got[0]["timestamp"] >= m5["timestamp"], "the read time covers the messages")
    eq(await unread(b1, f"c2c_{alice}"), 0, "bob's unread after markC2CMessageAsRead")
    marked = await b1.ok("getConversation", {"conversationID": f"c2c_{alice}"})
    check(marked["c2cReadTimestamp"] >= m5["timestamp"], "c2cReadTimestamp after marking read")
    for message in await history(b1, userID=alice, page=3):
        eq(message["isRead"], True, f"bob's isRead of {message['msgID']}")
    for message in await history(a1, userID=bob):
        eq(message["isPeerRead"], message["sender"] == alice, f"alice's isPeerRead {message['seq']}")
        eq(message["receiptPeerRead"], message["msgID"] == m1["msgID"],
           f"alice's receiptPeerRead {message['seq']}: only m1 got a receipt")
    eq((await counts(a1, m5["msgID"]))[m5["msgID"]]["isPeerRead"], False,
       "MessageReceipt.isPeerRead is message-level only")
    eq(await unread(a1, f"c2c_{bob}"), 1, "bob's read does not touch alice's count")
    await a1.ok("markC2CMessageAsRead", {"userID": bob})
    eq(await unread(a2, f"c2c_{bob}"), 0, "alice's unread after marking")
    await a1.fail("markC2CMessageAsRead", {"userID": nobody}, 20003)
    print("C2C read: markC2CMessageAsRead clears the count on both devices and tells the peer")

    # --- 6. A Work group: messages, unread counts, a late joiner ----------------------------------
    everyone = (a1, a2, b1, b2, c1)
    mark(*everyone)
    created = await a1.ok("createGroup", {
        "groupType": "Work", "groupID": gid, "groupName": "Team",
        "memberList": [{"userID": bob}, {"userID": carol}],
    })
    eq(created, {"groupID": gid}, "createGroup result")
    for device in everyone:
        got = await device.wait("onMemberEnter", lambda d: d["groupID"] == gid)
        entered = [m["userID"] for m in got["memberList"]]
        eq((entered[0], sorted(entered), "opUser" in got), (alice, sorted([alice, bob, carol]), False),
           f"{device.name} onMemberEnter (member objects, no operator)")
    for device in everyone:
        appeared = await device.wait("onNewConversation", conv_pred(f"group_{gid}", 0))
        eq(appeared[0]["lastMessage"], None, f"{device.name}: onNewConversation of the group")
    conv = (await conversations(b1))[f"group_{gid}"]
    eq((conv["type"], conv["groupID"], conv["groupType"], conv["showName"], conv["unreadCount"],
        conv["lastMessage"]), (2, gid, "Work", "Team", 0, None), "bob's new group conversation")
    mark(*everyone)
    g1 = await a1.ok("sendMessage", {"groupID": gid, "textElem": {"text": "Please read the plan"},
                                     "needReadReceipt": True})
    eq((g1["seq"], g1["groupID"], g1["needReadReceipt"], "userID" in g1), (1, gid, True, False),
       "group message")
    for device in (b1, b2, c1):
        got = await device.wait("onRecvNewMessage", by_id(g1["msgID"]))
        eq((got["isSelf"], got["needReadReceipt"], got["hasSentReceipt"], got["groupID"]),
           (False, True, False, gid), f"{device.name} receives g1")
    for device in alices:
        eq((await device.wait("onRecvNewMessage", by_id(g1["msgID"])))["isSelf"], True, "echo")
        await device.wait("onConversationChanged", conv_pred(f"group_{gid}", 0))
    # Every member's conversation changes too (coalesced, §12.6), and their totals: bob and
    # carol had nothing else unread.
    for device in (b1, b2, c1):
        got = await device.wait("onConversationChanged", conv_pred(f"group_{gid}", 1))
        last = next(c for c in got if c["conversationID"] == f"group_{gid}")["lastMessage"]
        eq(last["msgID"], g1["msgID"], f"{device.name}: the group's lastMessage")
        await device.wait("onTotalUnreadMessageCountChanged", lambda total: total == 1)
    # An empty receiver counts as absent (protocol.md, sendMessage), as V2TIM samples send it.
    g2 = await c1.ok("sendMessage", {"receiver": "", "groupID": gid,
                                     "textElem": {"text": "on it"}})
    eq(g2["seq"], 2, "group seq without gaps")
    eq(await unread(b1, f"group_{gid}"), 2, "bob's group unread")
    eq(await unread(c1, f"group_{gid}"), 1, "carol's group unread (her own not counted)")
    eq(await unread(a2, f"group_{gid}"), 1, "alice's group unread")
    # dave joins late (Work: by invitation only).
    await d1.fail("joinGroup", {"groupID": gid}, 10007)
    mark(d1)
    invited = await a1.ok("inviteUserToGroup", {"groupID": gid, "userList": [dave, bob, nobody]})
    # V2TIMGroupMemberResult: 1 success, 2 invalid (already a member), 0 failed (no such user).
    eq(invited, [{"memberID": dave, "result": 1}, {"memberID": bob, "result": 2},
                 {"memberID": nobody, "result": 0}], "inviteUserToGroup results")
    got = await d1.wait("onMemberInvited", lambda d: d["groupID"] == gid)
    eq((got["opUser"]["userID"], [m["userID"] for m in got["memberList"]]), (alice, [dave]),
       "dave's onMemberInvited")
    await d1.wait("onNewConversation", conv_pred(f"group_{gid}", 0))
    eq(await unread(d1, f"group_{gid}"), 0, "a joiner starts with no unread")
    dave_view = {m["msgID"]: m for m in await history(d1, groupID=gid, page=10)}
    eq((dave_view[g1["msgID"]]["needReadReceipt"], dave_view[g1["msgID"]]["isRead"]), (True, True),
       "the late joiner sees g1 (before his joining: read)")
    await d1.fail("sendMessageReadReceipts", {"messageIDList": [g1["msgID"]]}, 10007)
    eq(await counts(a1, g1["msgID"]), {g1["msgID"]: group_item(g1["msgID"], gid, 0, 2)},
       "g1: 2 recipients, dave not counted")
    eq(await member_list(a1, g1["msgID"], 1), [bob, carol], "g1 unread members (joining order)")
    eq(await member_list(a1, g1["msgID"], 0), [], "g1 read members")
    g3 = await a2.ok("sendMessage", {"groupID": gid, "textElem": {"text": "and this"},
                                     "needReadReceipt": True})
    eq(await counts(a1, g3["msgID"]), {g3["msgID"]: group_item(g3["msgID"], gid, 0, 3)},
       "g3: bob, carol and dave are its recipients")
    print("group: create, 3 messages, exact unread counts, a late joiner refused and not counted")

    # --- 7. Group read receipts -------------------------------------------------------------------
    mark(*alices, *bobs)
    await b1.ok("sendMessageReadReceipts", {"messageIDList": [g1["msgID"]]})
    eq(await b2.wait("onMessageReceiptsSent"), {"messageIDList": [g1["msgID"]]},
       "b2 onMessageReceiptsSent")
    await b1.quiet("onMessageReceiptsSent")  # the calling device has its response
    for device in alices:
        items = await device.wait("onRecvMessageReadReceipts", has_item(g1["msgID"], 1))
        eq(item_of(items, g1["msgID"]), group_item(g1["msgID"], gid, 1, 1),
           f"{device.name} group receipt push")
    eq(await counts(a2, g1["msgID"]), {g1["msgID"]: group_item(g1["msgID"], gid, 1, 1)}, "pull")
    eq(await member_list(a1, g1["msgID"], 0), [bob], "g1 read members")
    eq(await member_list(a1, g1["msgID"], 1), [carol], "g1 unread members")
    eq(await unread(b2, f"group_{gid}"), 3, "a group receipt does not change unread")
    # A duplicate from bob's other device: accepted, no push, no count change.
    mark(*alices, *bobs)
    await b2.ok("sendMessageReadReceipts", {"messageIDList": [g1["msgID"]]})
    await quiet_all(alices, "onRecvMessageReadReceipts")
    await quiet_all(bobs, "onMessageReceiptsSent")
    eq(await counts(a1, g1["msgID"]), {g1["msgID"]: group_item(g1["msgID"], gid, 1, 1)},
       "duplicate: not double-counted")
    # carol reads two messages in one call; dave reports his whole page: g1 (sent before he
    # joined: skipped, 10007), g3 (recorded) and g2 (no receipt asked: skipped, 10062).
    mark(*alices)
    await c1.ok("sendMessageReadReceipts", {"messageIDList": [g1["msgID"], g3["msgID"]]})
    got = await d1.ok("sendMessageReadReceipts",
                      {"messageIDList": [g1["msgID"], g3["msgID"], g2["msgID"]]})
    eq([(i["msgID"], i["code"]) for i in got["skippedList"]],
       [(g1["msgID"], 10007), (g2["msgID"], 10062)], "dave's skippedList")
    for device in alices:
        await device.wait("onRecvMessageReadReceipts", has_item(g1["msgID"], 2))
        await device.wait("onRecvMessageReadReceipts", has_item(g3["msgID"], 2))
    pulled = await counts(a1, g1["msgID"], g3["msgID"])
    eq(pulled, {g1["msgID"]: group_item(g1["msgID"], gid, 2, 0),
                g3["msgID"]: group_item(g3["msgID"], gid, 2, 1)}, "pull after carol and dave")
    eq(await member_list(a1, g1["msgID"], 0), [bob, carol], "g1 read, paged one by one")
    eq(await member_list(a1, g1["msgID"], 1), [], "g1 unread: nobody")
    eq(await member_list(a2, g3["msgID"], 0, page=100), [carol, dave], "g3 read")
    eq(await member_list(a2, g3["msgID"], 1, page=2), [bob], "g3 unread")
    # Misuse in the group.
    await b1.fail("getGroupMessageReadMemberList",
                  {"messageID": g1["msgID"], "filter": 0}, 10007)  # ordinary member
    await e1.fail("getGroupMessageReadMemberList",
                  {"messageID": g1["msgID"], "filter": 0}, 10007)  # non-member
    await a1.fail("getGroupMessageReadMemberList",
                  {"messageID": g1["msgID"], "filter": 0, "count": 101}, 6017)
    await a1.fail("getGroupMessageReadMemberList", {"messageID": g1["msgID"], "filter": 2}, 6017)
    await a1.fail("getGroupMessageReadMemberList", {"messageID": m1["msgID"], "filter": 0}, 6017)
    await c1.fail("getGroupMessageReadMemberList", {"messageID": g2["msgID"], "filter": 0}, 10062)
    await a1.fail("sendMessageReadReceipts", {"messageIDList": [g1["msgID"]]}, 6017)  # own
    await b1.fail("sendMessageReadReceipts", {"messageIDList": [g2["msgID"]]}, 10062)
    await b1.fail("sendMessageReadReceipts", {"messageIDList": [m1["msgID"], g1["msgID"]]}, 6017)
    await b1.fail("getMessageReadReceipts", {"messageIDList": [g1["msgID"]]}, 10007)
    await e1.fail("sendMessageReadReceipts", {"messageIDList": [g1["msgID"]]}, 10007)
    await e1.fail("sendMessage", {"groupID": gid, "textElem": {"text": "hi"}}, 10007)
    await e1.fail("getGroupHistoryMessageList", {"groupID": gid, "count": 10}, 10007)
    await e1.fail("joinGroup", {"groupID": gid}, 10007)
    await a1.fail("quitGroup", {"groupID": gid}, 10009)
    await b1.fail("kickGroupMember", {"groupID": gid, "memberList": [carol]}, 10007)
    await b1.fail("sendMessage", {"groupID": f"{prefix}_none", "textElem": {"text": "x"}}, 10010)
    # receiver with groupID is a targeted message for that member (§6.6): eve is none.
    await a1.fail("sendMessage", {"receiver": eve, "groupID": gid, "textElem": {"text": "x"}}, 6017)
    await a1.fail("sendMessage", {"receiver": bob}, 6017)
    await a1.fail("sendMessage", {"receiver": "", "groupID": "", "textElem": {"text": "x"}}, 6017)
    # Mentions are for group messages only.
    await a1.fail("sendMessage", {"receiver": bob, "textElem": {"text": "@bob"},
                                  "groupAtUserList": [bob]}, 6017)
    await a1.fail("sendMessage", {"receiver": nobody, "textElem": {"text": "x"}}, 20003)
    await a1.fail("sendMessage", {"receiver": "bad id", "textElem": {"text": "x"}}, 7003)
    await a1.fail("sendMessage", {"receiver": bob, "textElem": {"text": "x" * 13000}}, 80002)
    await a1.fail("getC2CHistoryMessageList", {"userID": bob, "count": 0}, 6017)
    await a1.fail("getC2CHistoryMessageList", {"userID": bob}, 6017)
    await a1.fail("getC2CHistoryMessageList", {"userID": bob, "count": "10"}, 6017)
    await a1.fail("getConversationList", {"count": 101}, 6017)
    await a1.fail("createGroup", {"groupType": "Nope", "groupName": "x"}, 10004)
    await a1.fail("createGroup", {"groupType": "Work", "groupName": "x", "groupID": gid}, 10021)
    eq(await a1.ok("createGroup", {"groupType": "AVChatRoom", "groupID": live,
                                   "groupName": "Live"}), {"groupID": live}, "AVChatRoom")
    eq(await joined_groups(a1), sorted([gid, live]), "alice's groups")
    await a1.fail("sendMessage", {"groupID": live, "textElem": {"text": "x"},
                                  "needReadReceipt": True}, 7013)
    # A leaver stays counted.
    await c1.ok("quitGroup", {"groupID": gid})
    eq(await counts(a1, g1["msgID"]), {g1["msgID"]: group_item(g1["msgID"], gid, 2, 0)},
       "carol left: still counted")
    eq(await member_list(a1, g1["msgID"], 0), [bob, carol], "carol left: still listed")
    await c1.fail("sendMessageReadReceipts", {"messageIDList": [g3["msgID"]]}, 10007)
    # Conversation-level group read: clears the count, not the receipts.
    mark(*bobs)
    await b1.ok("markGroupMessageAsRead", {"groupID": gid})
    total = await b2.ok("getTotalUnreadMessageCount", {})
    for device in bobs:
        await device.wait("onConversationChanged", conv_pred(f"group_{gid}", 0))
        await device.wait("onTotalUnreadMessageCountChanged", lambda pushed: pushed == total)
    eq(await unread(b2, f"group_{gid}"), 0, "bob's group unread after markGroupMessageAsRead")
    eq((await counts(a1, g3["msgID"]))[g3["msgID"]], group_item(g3["msgID"], gid, 2, 1),
       "markGroupMessageAsRead is not a receipt")
    print("group receipts: pushes with exact counts, pulls, read/unread pages, duplicate silent, "
          "leaver counted, misuse refused")

    # --- 8. Disconnect every device of bob, miss traffic, reconnect and catch up -----------------
    known = {m["msgID"] for m in (m1, m2, m3, m4, m5, r1, g1, g2, g3)}
    await b1.close()
    await b2.close()
    await a2.close()  # alice keeps only one device online meanwhile
    w1 = await a1.ok("sendMessage", {"receiver": bob, "textElem": {"text": "while away 1"}})
    w2 = await a1.ok("sendMessage", {"receiver": bob, "textElem": {"text": "while away 2"},
                                     "needReadReceipt": True})
    gw1 = await a1.ok("sendMessage", {"groupID": gid, "textElem": {"text": "vote today"},
                                      "needReadReceipt": True})
    gw2 = await d1.ok("sendMessage", {"groupID": gid, "textElem": {"text": "voted"}})
    eq(await counts(a1, gw1["msgID"]), {gw1["msgID"]: group_item(gw1["msgID"], gid, 0, 2)},
       "gw1: bob and dave (carol left)")
    b3 = await login(bob, "bob#3")
    convs = await conversations(b3, page=1)
    eq(set(convs), {f"c2c_{alice}", f"group_{gid}"}, "bob's conversations after reconnecting")
    eq((convs[f"c2c_{alice}"]["unreadCount"], convs[f"c2c_{alice}"]["lastMessage"]["msgID"]),
       (2, w2["msgID"]), "C2C catch-up: unread and lastMessage")
    eq((convs[f"group_{gid}"]["unreadCount"], convs[f"group_{gid}"]["lastMessage"]["msgID"]),
       (2, gw2["msgID"]), "group catch-up: unread and lastMessage")
    missed = await history(b3, stop_at=known, userID=alice)
    eq([m["msgID"] for m in missed], [w2["msgID"], w1["msgID"]], "missed C2C messages")
    missed = await history(b3, stop_at=known, groupID=gid)
    eq([m["msgID"] for m in missed], [gw2["msgID"], gw1["msgID"]], "missed group messages")
    eq((missed[1]["needReadReceipt"], missed[1]["hasSentReceipt"]), (True, False), "gw1 as bob")
    old = {m["msgID"]: m for m in await history(b3, groupID=gid, page=100)}
    eq(old[g1["msgID"]]["hasSentReceipt"], True, "a new device learns hasSentReceipt")
    eq(old[g3["msgID"]]["hasSentReceipt"], False, "g3 not receipted by bob")
    mark(a1, b3)
    await b3.ok("sendMessageReadReceipts", {"messageIDList": [gw1["msgID"]]})
    await b3.ok("sendMessageReadReceipts", {"messageIDList": [w2["msgID"]]})
    items = await a1.wait("onRecvMessageReadReceipts", has_item(gw1["msgID"], 1))
    eq(item_of(items, gw1["msgID"]), group_item(gw1["msgID"], gid, 1, 1), "gw1 push")
    items = await a1.wait("onRecvMessageReadReceipts", has_item(w2["msgID"]))
    eq((item_of(items, w2["msgID"])["userID"], item_of(items, w2["msgID"])["isPeerRead"]),
       (bob, True), "w2 push")
    await b3.quiet("onMessageReceiptsSent")  # bob's only device sent them itself
    # alice's reconnecting device pulls what it missed.
    a3 = await login(alice, "alice#3")
    pulled = await counts(a3, g1["msgID"], g3["msgID"], gw1["msgID"])
    eq(pulled, {g1["msgID"]: group_item(g1["msgID"], gid, 2, 0),
                g3["msgID"]: group_item(g3["msgID"], gid, 2, 1),
                gw1["msgID"]: group_item(gw1["msgID"], gid, 1, 1)}, "alice's pull after reconnect")
    eq((await counts(a3, w2["msgID"]))[w2["msgID"]]["isPeerRead"], True, "w2 pulled")
    await b3.ok("markC2CMessageAsRead", {"userID": alice})
    await b3.ok("markGroupMessageAsRead", {"groupID": gid})
    convs = await conversations(b3, page=2)
    eq([convs[c]["unreadCount"] for c in sorted(convs)], [0, 0], "bob caught up: nothing unread")
    # Logout keeps the connection; the session can come back.
    await b3.ok("logout")
    await b3.fail("getConversationList", {"count": 10}, 6014)
    await b3.ok("login", {"userID": bob, "userSig": api.gen_sig(bob)})
    eq(await unread(b3, f"c2c_{alice}"), 0, "logged in again on the same connection")
    print("reconnect: bob caught up 2 C2C + 2 group messages from the list and history; "
          "alice pulled exact counts")

    # --- 9. Counts in pushes never went down, and the last push equals the pull ------------------
    last = check_monotone(a1)
    for message in (g1, g3, gw1):
        item = pulled[message["msgID"]]
        eq(last.get(message["msgID"]), (item["readCount"], item["unreadCount"]),
           f"the last push of {message['msgID']} equals the pull")
    for device in (a2, a3):
        check_monotone(device)

    # --- 10. Recall (revokeMessage, onRecvMessageRevoked, §8, §12.13) --------------------------
    rid = f"{prefix}_recall"
    await a1.ok("createGroup", {"groupType": "Work", "groupID": rid, "groupName": "recall",
                                "memberList": [{"userID": bob}, {"userID": carol}]})
    for conn in (b3, c1):
        await conn.wait("onNewConversation", conv_pred(f"group_{rid}", 0))
    for conn in (a1, a3, b3, c1):
        conn.mark()
    r1 = await a1.ok("sendMessage", {"groupID": rid, "textElem": {"text": "oops"},
                                     "needReadReceipt": True})
    await b3.ok("sendMessageReadReceipts", {"messageIDList": [r1["msgID"]]})
    await c1.fail("revokeMessage", {"msgID": r1["msgID"]}, 10007)  # not the sender, no admin
    await a1.fail("revokeMessage", {"msgID": f"{prefix}-no-such-message"}, 20022)
    await a1.fail("revokeMessage", {}, 6017)
    await a1.fail("revokeMessage", {"msgID": r1["msgID"], "reason": "x" * 257}, 6017)
    eq(await a1.ok("revokeMessage", {"msgID": r1["msgID"], "reason": "typo"}), {}, "revokeMessage")
    for conn in (a1, a3, b3, c1):
        data = await conn.wait("onRecvMessageRevoked", by_id(r1["msgID"]))
        eq((data["operateUser"]["userID"], data["reason"]), (alice, "typo"),
           f"{conn.name}: onRecvMessageRevoked")
    # r1 was the group's last message: every member's conversation shows it recalled.
    for conn in (b3, c1):
        await conn.wait("onConversationChanged", recalled_last(f"group_{rid}", r1["msgID"]))
    await a1.fail("revokeMessage", {"msgID": r1["msgID"]}, 20023)
    await c1.fail("sendMessageReadReceipts", {"messageIDList": [r1["msgID"]]}, 20023)
    recalled = (await c1.ok("getGroupHistoryMessageList", {"groupID": rid, "count": 10}))[0]
    eq((recalled["msgID"], recalled["status"], recalled["isRevoked"],
        recalled["revokerInfo"]["userID"], recalled["revokeReason"], "textElem" in recalled),
       (r1["msgID"], 6, True, alice, "typo", False), "a recalled message in history")
    eq(await counts(a1, r1["msgID"]), {r1["msgID"]: group_item(r1["msgID"], rid, 1, 1)},
       "the counts of a recalled message stay readable to its sender")
    w3 = await a1.ok("sendMessage", {"receiver": bob, "textElem": {"text": "wrong chat"}})
    await b3.fail("revokeMessage", {"msgID": w3["msgID"]}, 10007)  # only the C2C sender
    await a1.ok("revokeMessage", {"msgID": w3["msgID"]})
    await b3.wait("onRecvMessageRevoked", by_id(w3["msgID"]))
    await b3.wait("onConversationChanged", recalled_last(f"c2c_{alice}", w3["msgID"]))
    print("recall: group and C2C messages recalled, every device told, history marked, "
          "receipts refused (20023), counts still readable")

    # --- 10b. Private receipts (setReceiptPrivacy, §12.14) ---------------------------------------
    d2 = await login(dave, "dave#2")
    eq(await d1.ok("getReceiptPrivacy"), {"privateReadReceipts": False}, "receipts shown by default")
    await d1.fail("setReceiptPrivacy", {}, 6017)
    await d1.fail("setReceiptPrivacy", {"privateReadReceipts": "yes"}, 6017)
    eq(await d1.ok("setReceiptPrivacy", {"privateReadReceipts": True}), {}, "setReceiptPrivacy")
    eq(await d2.ok("getReceiptPrivacy"), {"privateReadReceipts": True}, "private on every device")
    p1 = await a1.ok("sendMessage", {"receiver": dave, "textElem": {"text": "psst"},
                                     "needReadReceipt": True})
    await d1.wait("onRecvNewMessage", by_id(p1["msgID"]))
    for conn in (a1, a3, d2):
        conn.mark()
    eq(await d1.ok("sendMessageReadReceipts", {"messageIDList": [p1["msgID"]]}),
       {"skippedList": []}, "a private C2C receipt")
    await d2.wait("onMessageReceiptsSent", lambda data: p1["msgID"] in data["messageIDList"])
    await d1.ok("markC2CMessageAsRead", {"userID": alice})
    eq(await unread(d1, f"c2c_{alice}"), 0, "the private reader's own count clears")
    await a1.quiet("onRecvMessageReadReceipts", has_item(p1["msgID"]))
    for conn in (a1, a3):
        await conn.quiet("onRecvC2CReadReceipt", lambda data: any(r["userID"] == dave for r in data),
                         already_waited=True)
    eq(await counts(a1, p1["msgID"]), {p1["msgID"]: c2c_item(p1["msgID"], dave, 0)},
       "the sender's pull shows no receipt")
    seen = (await history(a1, userID=dave, page=5))[0]
    eq((seen["msgID"], seen["isPeerRead"], seen["receiptPeerRead"]), (p1["msgID"], False, False),
       "the sender's history shows the message unread")
    # Group: carol reads privately; she stays among the unread.
    await c1.ok("setReceiptPrivacy", {"privateReadReceipts": True})
    a1.mark()
    r2 = await a1.ok("sendMessage", {"groupID": rid, "textElem": {"text": "who read this?"},
                                     "needReadReceipt": True})
    await c1.ok("sendMessageReadReceipts", {"messageIDList": [r2["msgID"]]})
    await c1.fail("sendMessageReadReceipts", {"messageIDList": [r1["msgID"]]}, 20023)
    await a1.quiet("onRecvMessageReadReceipts", has_item(r2["msgID"]))
    eq(await counts(a1, r2["msgID"]), {r2["msgID"]: group_item(r2["msgID"], rid, 0, 2)},
       "a private group receipt counts for nobody")
    eq(await member_list(a1, r2["msgID"], 0), [], "nobody in the read list")
    eq(sorted(await member_list(a1, r2["msgID"], 1)), sorted([bob, carol]),
       "the private reader stays in the unread list")
    # Off again: nothing given meanwhile shows; later receipts do.
    await c1.ok("setReceiptPrivacy", {"privateReadReceipts": False})
    await d1.ok("setReceiptPrivacy", {"privateReadReceipts": False})
    eq(await counts(a1, r2["msgID"]), {r2["msgID"]: group_item(r2["msgID"], rid, 0, 2)},
       "turning it off reveals nothing")
    eq(await counts(a1, p1["msgID"]), {p1["msgID"]: c2c_item(p1["msgID"], dave, 0)},
       "turning it off reveals no C2C receipt")
    await b3.ok("sendMessageReadReceipts", {"messageIDList": [r2["msgID"]]})
    await a1.wait("onRecvMessageReadReceipts", has_item(r2["msgID"], read=1))
    eq(await member_list(a1, r2["msgID"], 0), [bob], "a public receipt is listed")
    await d2.close()
    print("private receipts: the reader's other device told, the sender's pushes, pulls, member "
          "lists and history show no read; turning it off revealed nothing")

    # --- 11a. Online status (subscribeUserStatus, setSelfStatus, onUserStatusChanged, §7.11) ---
    sam, tom = f"{prefix}_sam", f"{prefix}_tom"
    s1 = await login(sam, "s1")
    await s1.fail("subscribeUserStatus", {"userIDList": []}, 6017)
    await s1.fail("subscribeUserStatus", {"userIDList": [sam]}, 6017)
    await s1.fail("subscribeUserStatus", {"userIDList": [f"u{i}" for i in range(101)]}, 6017)
    await s1.fail("subscribeUserStatus", {"userIDList": ["a b"]}, 7003)
    await s1.fail("getUserStatus", {"userIDList": [f"u{i}" for i in range(501)]}, 6017)
    await s1.fail("setSelfStatus", {"customStatus": "x" * 257}, 6017)
    eq(await s1.ok("subscribeUserStatus", {"userIDList": [tom]}), {}, "subscribeUserStatus")
    eq(await s1.ok("getUserStatus", {"userIDList": [tom, sam]}),
       [{"userID": tom, "statusType": 2, "customStatus": ""},
        {"userID": sam, "statusType": 1, "customStatus": ""}], "getUserStatus")
    s1.mark()
    t1 = await login(tom, "t1")
    eq(await s1.wait("onUserStatusChanged"), [{"userID": tom, "statusType": 1, "customStatus": ""}],
       "tom went online")
    s1.mark()
    t2 = await login(tom, "t2")
    await t1.ok("setSelfStatus", {"customStatus": "busy"})
    busy = [{"userID": tom, "statusType": 1, "customStatus": "busy"}]
    eq(await s1.wait("onUserStatusChanged"), busy, "tom's custom status, nothing for his 2nd device")
    eq(await t2.wait("onUserStatusChanged"), busy, "tom's other device is told his custom status")
    eq(await s1.ok("getUserStatus", {"userIDList": [tom]}), busy, "getUserStatus with custom status")
    s1.mark()
    await t2.ok("logout")
    await t1.ok("logout")
    eq(await s1.wait("onUserStatusChanged"), [{"userID": tom, "statusType": 2, "customStatus": ""}],
       "tom went offline when his last device left, custom status cleared")
    eq(await s1.ok("unsubscribeUserStatus", {}), {}, "unsubscribeUserStatus of everyone")
    for conn in (s1, t1, t2):
        check(conn.closed is None, f"{conn.name} stayed open and clean: {conn.closed}")
        await conn.close()
    print("status: subscriptions, online/custom/offline pushes exact, limits refused (6017, 7003)")
    # --- 11. Profiles (setSelfInfo, getUsersInfo, setGroupMemberInfo, §7.12, §8) -------------
    eq(await a1.ok("setSelfInfo", {"nickName": "Alice", "faceURL": "https://example.com/a.png",
                                   "gender": 2, "customInfo": {"mood": "sunny"}}),
       {}, "setSelfInfo")
    await a1.ok("setSelfInfo", {"selfSignature": "busy", "customInfo": {"mood": "", "city": "Oslo"}})
    await a1.fail("setSelfInfo", {"nickName": "n" * 501}, 40601)
    await a1.fail("setSelfInfo", {"gender": 7}, 40605)
    await a1.fail("setSelfInfo", {"customInfo": {"much_too_long": "x"}}, 40009)
    await b3.fail("getUsersInfo", {"userIDList": []}, 6017)
    infos = await b3.ok("getUsersInfo", {"userIDList": [f"{prefix}_nobody", alice]})
    eq(infos, [{"userID": alice, "nickName": "Alice", "faceURL": "https://example.com/a.png",
                "selfSignature": "busy", "gender": 2, "customInfo": {"city": "Oslo"}}],
       "getUsersInfo: only existing users, fields given kept, the others unchanged")
    b3.mark()
    sent = await a1.ok("sendMessage", {"receiver": bob, "textElem": {"text": "from Alice"}})
    eq((sent["nickName"], sent["faceURL"]), ("Alice", "https://example.com/a.png"),
       "sendMessage result carries the sender's card")
    pushed = await b3.wait("onRecvNewMessage", lambda m: m["msgID"] == sent["msgID"])
    eq(pushed["nickName"], "Alice", "onRecvNewMessage carries the sender's nickName")
    await a1.ok("setSelfInfo", {"nickName": "Alicia"})
    kept = [m for m in await history(b3, userID=alice) if m["msgID"] == sent["msgID"]]
    eq([m["nickName"] for m in kept], ["Alice"], "history keeps the nickName the message was sent with")
    await b3.ok("setGroupMemberInfo", {"groupID": rid, "userID": bob, "nameCard": "Bobby"})
    await c1.fail("setGroupMemberInfo", {"groupID": rid, "userID": bob, "nameCard": "x"}, 10007)
    members = (await c1.ok("getGroupMemberList", {"groupID": rid}))["memberInfoList"]
    eq({m["userID"]: (m["nickName"], m["nameCard"]) for m in members}[bob], ("", "Bobby"),
       "getGroupMemberList shows the name card")
    eq({m["userID"]: m["nickName"] for m in members}[alice], "Alicia",
       "getGroupMemberList shows the nickname as it is now")
    print("profiles: set own profile, read by others, refusals 40601/40605/40009, sender card on "
          "messages and in history, name cards in member lists")

    # --- 11b. Targeted group messages and mentions (sendMessage, §6.6, §7.1, §14.1) -------------
    tid = f"{prefix}_targeted"
    await a1.ok("createGroup", {"groupType": "Work", "groupID": tid, "groupName": "targeted",
                                "memberList": [{"userID": bob}, {"userID": carol}]})
    text = {"groupID": tid, "textElem": {"text": "psst"}}
    await a1.fail("sendMessage", dict(text, receiverList=[bob, dave]), 6017)  # dave: no member
    await a1.fail("sendMessage", dict(text, receiverList=[bob], groupAtUserList=[bob]), 6017)
    await a1.fail("sendMessage", dict(text, receiverList=[f"u{i}" for i in range(51)]), 6017)
    for conn in (b3, c1):
        conn.mark()
    t1 = await a1.ok("sendMessage", dict(text, receiverList=[bob], needReadReceipt=True))
    eq((t1["seq"], t1["isExcludedFromUnreadCount"], "prevSeq" in t1), (1, True, False),
       "a targeted message: a seq of the group, never unread")
    everyone = "__kImSDK_MesssageAtALL__"
    t2 = await a1.ok("sendMessage", {"groupID": tid, "textElem": {"text": "@all and carol"},
                                     "groupAtUserList": [everyone, carol]})
    got = await b3.wait("onRecvNewMessage", by_id(t1["msgID"]))
    eq(got["textElem"], {"text": "psst"}, "bob got the targeted message")
    got = await b3.wait("onRecvNewMessage", by_id(t2["msgID"]))
    eq("prevSeq" in got, False, "bob saw seq 1: no prevSeq")
    got = await c1.wait("onRecvNewMessage", by_id(t2["msgID"]))
    eq((got["seq"], got["prevSeq"], got["groupAtUserList"]), (2, 0, [everyone, carol]),
       "carol is told seq 1 was not hers")
    await c1.quiet("onRecvNewMessage", by_id(t1["msgID"]))
    eq([(m["msgID"], m.get("prevSeq")) for m in await history(c1, groupID=tid, page=10)],
       [(t2["msgID"], 0)], "carol's history has no trace of it")
    eq([m["msgID"] for m in await history(b3, groupID=tid, page=10)], [t2["msgID"], t1["msgID"]],
       "bob's history has both")
    eq(await unread(c1, f"group_{tid}"), 1, "carol: only the message for everyone is unread")
    conversation = (await conversations(c1, page=20))[f"group_{tid}"]
    eq(conversation["groupAtInfoList"], [{"seq": 2, "atType": 3}],
       "carol's conversation: an unread mention of everyone and of her")
    eq((await conversations(b3, page=20))[f"group_{tid}"]["groupAtInfoList"],
       [{"seq": 2, "atType": 2}], "bob's conversation: an unread mention of everyone")
    eq(await unread(b3, f"group_{tid}"), 1, "bob: the targeted message is never unread")
    await c1.fail("sendMessageReadReceipts", {"messageIDList": [t1["msgID"]]}, 10007)
    await b3.ok("sendMessageReadReceipts", {"messageIDList": [t1["msgID"]]})
    eq(await counts(a1, t1["msgID"]), {t1["msgID"]: group_item(t1["msgID"], tid, 1, 0)},
       "a targeted message's only recipient is its target")
    print("targeted group messages: only the target got it, the others were told its seq was "
          "not theirs (prevSeq), no history entry, no unread; mentions kept")

    # --- 12. An expired UserSig -----------------------------------------------------------------
    await asyncio.sleep(max(0.0, expiring_made + 2.2 - time.time()))
    late = await Conn.open(url, "late")
    await late.fail("login", {"userID": alice, "userSig": expiring}, 70001)
    print("expired UserSig refused (70001)")

    # --- Rich elements (protocol.md §7.1.1): an image, as the app uploaded it -------------------
    image = {
        "uuid": "img-1", "imageFormat": 3,
        "imageList": [
            {"uuid": "", "type": 0, "size": 204800, "width": 1280, "height": 960,
             "url": "https://cdn.example/o.png"},
            {"uuid": "", "type": 1, "size": 4096, "width": 198, "height": 148,
             "url": "https://cdn.example/t.png"},
        ],
    }
    sent = await c1.ok("sendMessage", {"receiver": dave, "imageElem": image})
    eq((sent["elemType"], sent["imageElem"]), (3, image), "the image as sent")
    check("textElem" not in sent and "msgBody" not in sent, "an image message has one element")
    got = await d1.wait("onRecvNewMessage", by_id(sent["msgID"]))
    eq((got["elemType"], got["imageElem"]), (3, image), "dave receives the image unchanged")
    newest = (await d1.ok("getC2CHistoryMessageList", {"userID": carol, "count": 1}))[0]
    eq((newest["msgID"], newest["imageElem"]), (sent["msgID"], image), "the image in history")
    no_url = {"imageList": [{"type": 0, "size": 1, "width": 1, "height": 1}]}
    desc = await c1.fail("sendMessage", {"receiver": dave, "imageElem": no_url}, 6017)
    check("url" in desc, f"a missing URL is named: {desc}")
    await c1.fail("sendMessage", {"receiver": dave, "elemType": 9, "textElem": {"text": "x"}}, 6017)
    big = {"fileName": "n" * 12288, "fileSize": 1, "url": "https://cdn.example/f"}
    await c1.fail("sendMessage", {"receiver": dave, "fileElem": big}, 80002)
    print("rich elements: an image sent, received and in history unchanged; bad ones refused")

    for conn in (a1, a3, b3, c1, d1, e1, late):
        check(conn.closed is None, f"{conn.name} stayed open and clean: {conn.closed}")
        await conn.close()


def main():
    url = os.environ.get("TIDINGS_URL")
    key = os.environ.get("TIDINGS_SECRET_KEY")
    if not url or not key:
        sys.exit("set TIDINGS_URL (ws://host:port/ws) and TIDINGS_SECRET_KEY")
    sdkappid = int(os.environ.get("TIDINGS_SDKAPPID", "1400000000"))
    prefix = os.environ.get("TIDINGS_USER_PREFIX") or "ws" + secrets.token_hex(3)
    started = time.monotonic()
    try:
        asyncio.run(run(url, sdkappid, key, prefix))
    except CheckFailed as failure:
        print(f"FAILED after {CHECKS} checks: {failure}", file=sys.stderr)
        sys.exit(1)
    print(f"ws_client_check: all {CHECKS} checks passed ({REFUSALS} refusals with their codes) "
          f"in {time.monotonic() - started:.1f}s against {url} (users {prefix}_*)")


if __name__ == "__main__":
    main()
