"""The first process of a sandbox, inside its namespaces; run with -I -S and only built-in modules
(json, socket, threading and signal would cost it more than the rest of the start together).

It binds the sandbox's loopback ports that lead out (the studio's API, the outbound proxy), each
relayed to a Unix socket the studio serves outside; drops to the sandbox's user; starts the user's
command; relays until that command ends; and reports how it ended on a pipe. When it exits, the
sandbox's PID namespace ends and with it every process the command left behind.

    inside.py [--uid N --gid N] [--cwd PATH] [--status-fd N] [--listen HOST PORT SOCKET]... -- COMMAND...
"""

import _signal
import _socket
import _thread
import os
import sys

BUFFER = 256 * 1024
SIGNALS = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP)


def _pump(source, target) -> None:
    try:
        while True:
            data = source.recv(BUFFER)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    for sock, how in ((target, _socket.SHUT_WR), (source, _socket.SHUT_RD)):
        try:
            sock.shutdown(how)
        except OSError:
            pass


def _relay(client, path: str) -> None:
    upstream = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        upstream.connect(path)
    except OSError:
        client.close()
        upstream.close()
        return
    done = _thread.allocate_lock()
    done.acquire()

    def back() -> None:
        _pump(upstream, client)
        done.release()

    _thread.start_new_thread(back, ())
    _pump(client, upstream)
    done.acquire()
    client.close()
    upstream.close()


def _serve(listener, path: str) -> None:
    while True:
        try:
            fd, _ = listener._accept()
        except OSError:
            return
        client = _socket.socket(fileno=fd)
        client.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)  # a relay adds no delay of its own
        _thread.start_new_thread(_relay, (client, path))


def _listen(host: str, port: int):
    family = _socket.AF_INET6 if ":" in host else _socket.AF_INET
    listener = _socket.socket(family, _socket.SOCK_STREAM)
    listener.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(128)
    return listener


def _pass_on(*_) -> None:
    try:
        os.kill(-1, _signal.SIGTERM)
    except OSError:
        pass


def _parse(args: list[str]) -> dict:
    config = {"uid": None, "gid": None, "status_fd": None, "cwd": None, "listen": []}
    while args and args[0] != "--":
        option = args.pop(0)
        if option == "--listen":
            config["listen"].append((args.pop(0), int(args.pop(0)), args.pop(0)))
        elif option == "--cwd":
            config["cwd"] = args.pop(0)
        else:
            config[option[2:].replace("-", "_")] = int(args.pop(0))
    config["argv"] = args[1:]
    return config


def main() -> int:
    config = _parse(sys.argv[1:])
    listeners = []
    for host, port, path in config["listen"]:
        try:
            listeners.append((_listen(host, port), path))
        except OSError as exc:
            print(f"sandbox: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
    if config["status_fd"] is not None:
        os.set_inheritable(config["status_fd"], False)
    if config["uid"] is not None:
        os.setgroups([])
        os.setgid(config["gid"])
        os.setuid(config["uid"])  # from root: every capability is gone with it
    # A cancel sends this process SIGTERM: every process of the sandbox gets it at once (kill(-1)
    # reaches all this user's processes in the namespace but this one), and this one lives on to
    # the end of the command's grace period. Handlers, unlike SIG_IGN, reset at exec.
    for sig in SIGNALS:
        _signal.signal(sig, _pass_on if sig == _signal.SIGTERM else lambda *_: None)
    pid = os.fork()
    if pid == 0:
        try:
            for sig in SIGNALS:
                _signal.signal(sig, _signal.SIG_DFL)
            if config["cwd"]:
                os.chdir(config["cwd"])
            os.execvp(config["argv"][0], config["argv"])
        except OSError as exc:
            print(f"sandbox: cannot start {config['argv'][0]}: {exc}", file=sys.stderr)
        os._exit(127)
    for listener, path in listeners:
        _thread.start_new_thread(_serve, (listener, path))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        outcome, code = f"signal {os.WTERMSIG(status)}", 128 + os.WTERMSIG(status)
    else:
        code = os.waitstatus_to_exitcode(status)
        outcome = f"exit {code}"
    if config["status_fd"] is not None:
        try:
            os.write(config["status_fd"], outcome.encode())
        except OSError:
            pass
    return code


if __name__ == "__main__":
    os._exit(main())
