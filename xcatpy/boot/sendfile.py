"""Static files over plain HTTP with sendfile(2): kernels and initrds go from the page
cache to the socket without passing through Python.

twisted.web's static.File reads 64 KiB into Python and writes it to the transport, once
per chunk; in a boot storm that was over half of xcatd's CPU (py-spy under
tests/bench/bootstorm.py: socket send 30%, file read 22%). SendfileFile is static.File
with one change: a whole-file GET on a plain TCP connection gets a SendfileProducer. Range
requests, HEAD, TLS and every header stay static.File's.

How the producer shares the socket with Twisted: it is a streaming producer of the
request. It writes each chunk it cannot sendfile through Twisted (larger than the
transport's buffer, so the transport pauses it); the transport resumes it only once that
buffer has drained into the kernel, and only then is the socket the producer's to
sendfile into directly, until the kernel's buffer is full. Bytes therefore reach the
socket in order, and a slow client costs a paused producer, not a thread.
"""

import os

from twisted.internet import interfaces
from twisted.web import static

# Just over the transport's 64 KiB buffer (abstract.FileDescriptor.bufferSize), so writing
# one chunk always pauses the producer and the transport's drain always resumes it; no
# larger, because every paused connection holds one (measured at 500 nodes: 256 KiB chunks
# took peak memory from 102 to 213 MB).
CHUNK = 64 * 1024 + 4096
# Smaller files are one or two chunks anyway: static.File's producer is as good there.
MIN_SIZE = 4 * CHUNK


def _sendfile_socket(request):
    """The socket of a plain TCP connection, or None (TLS, a test transport, ...)."""
    transport = getattr(request.channel, "transport", None)
    if transport is None or interfaces.ISSLTransport.providedBy(transport):
        return None
    get_handle = getattr(transport, "getHandle", None)
    handle = get_handle() if get_handle is not None else None
    return handle if hasattr(handle, "fileno") else None


class SendfileProducer(static.StaticProducer):
    def __init__(self, request, fileObject, sock) -> None:
        super().__init__(request, fileObject)
        self.sock = sock
        self.offset = 0
        self.size = os.fstat(fileObject.fileno()).st_size

    def start(self) -> None:
        self.request.registerProducer(self, True)
        self._write_chunk()

    def pauseProducing(self) -> None:
        pass    # nothing runs between a chunk and the resume that follows its drain

    def resumeProducing(self) -> None:
        if self.request is None:
            return
        # One call per resume: the kernel takes what fits in the socket's buffer. Looping
        # until EAGAIN would let one fast reader hold the reactor for a whole initrd while
        # every other node's TFTP and DHCP waits.
        try:
            sent = os.sendfile(self.sock.fileno(), self.fileObject.fileno(), self.offset,
                               self.size - self.offset)
            if sent == 0:       # the file shrank under us: the length is a lie now
                self._abort()
                return
            self.offset += sent
        except BlockingIOError:
            pass
        except OSError:
            # The peer went away; the transport notices on its own and stops us.
            return
        if self.offset >= self.size:
            self._finish()
        else:
            self._write_chunk()

    def _write_chunk(self) -> None:
        data = os.pread(self.fileObject.fileno(), CHUNK, self.offset)
        if not data:
            self._abort()
            return
        self.offset += len(data)
        self.request.write(data)
        if self.offset >= self.size and self.request is not None:
            self._finish()

    def _finish(self) -> None:
        request = self.request
        request.unregisterProducer()
        request.finish()
        self.stopProducing()

    def _abort(self) -> None:
        request = self.request
        request.unregisterProducer()
        request.loseConnection()
        self.stopProducing()


class SendfileFile(static.File):
    def makeProducer(self, request, fileForReading):
        producer = super().makeProducer(request, fileForReading)
        if type(producer) is static.NoRangeStaticProducer and self.getFileSize() >= MIN_SIZE:
            sock = _sendfile_socket(request)
            if sock is not None:
                return SendfileProducer(request, fileForReading, sock)
        return producer
