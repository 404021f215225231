# for internal use by psremoting.core only; not a public API
"""Constant PowerShell scripts for put_file / fetch_file (stdlib-only module).

Values (paths, buffer size, data, hashes) always travel as typed parameters or pipeline input,
never inside the script text. The first line of each script is a version marker; tests/winhost
can import these constants to recognise and emulate them.

Resume: the host keeps what arrived in ``<Path>.psrp-partial`` (``PARTIAL_SUFFIX``), the
controller in ``<dest>.psrp-partial``; a retried transfer whose partial file is a verified prefix
of the source sends only the rest, and the target is replaced only when the hash of the whole
file matches on both ends.

put_file probe v1 -- parameters: ``Path``. Output: nothing when ``<Path>.psrp-partial`` does not
exist, else one object ``{length, sha256}`` of it. The controller resumes only when its source's
first ``length`` bytes have that hash, and starts from 0 otherwise.

put_file v5 -- parameters: ``Path``, ``Offset`` (long, default 0), ``PrefixSha256``. Pipeline
input: chunks, then one string, the SHA256 hex digest of the whole file. A chunk is either a
``byte[]`` (the bytes as they are) or a hashtable ``@{ Deflate = byte[] }`` holding the next bytes
compressed as raw deflate (RFC 1951), which the script inflates with
``System.IO.Compression.DeflateStream`` through a 1 MiB buffer straight into the partial file,
hashing each piece on the way (v5; before, the whole chunk was inflated into a MemoryStream and
copied out); the controller compresses only the chunks that shrink.
With ``Offset`` 0 the partial file is created empty; with ``Offset`` N it must still hold exactly N
bytes whose SHA256 is ``PrefixSha256`` (else the error says ``resume refused``: it changed since
the probe). Each chunk is appended to the partial file (opened per chunk, so a put cut
off by the network holds no handle on it); at the end the digest of the verified prefix and the
chunks it appended is compared with the sent one, then the partial file as it is on disk is
hashed again (v4): when something else wrote to it meanwhile (another put to the same path) the
put is refused, and only a file whose own hash matches replaces ``Path``. A chunk that cannot
be read or a digest mismatch deletes the partial file and throws.
Output: one object ``{sha256, length}``.

fetch_file v4 -- parameters: ``Path``, ``BufferSize``, switch ``Compress``, ``CompressedReadSize``
(int, default 0), ``Offset`` (long, default 0), ``PrefixSha256``. Output: ``'[DIR]'`` for a
directory, else ``'[FILE]'``, then ``'RESUME:<n>'``: n is ``Offset`` when the file's first
``Offset`` bytes hash to ``PrefixSha256`` (the controller's partial file is a prefix: only the rest
follows), else 0 (everything follows). Then one chunk per read, then ``'SHA256:<hex>'`` of the
whole file. A chunk is a ``byte[]``, or with ``-Compress``, when deflate
(``CompressionLevel.Fastest``) shrinks that read by at least 10%, ``@{ Deflate = byte[] }`` (raw
deflate, RFC 1951). A read is ``BufferSize`` bytes at most, or after a read that compressed,
``max(BufferSize, CompressedReadSize)`` (v4: a compressible file travels in fewer, larger
objects, each costing the host and the controller less per byte). After a read that does not
shrink the next 15 are sent as they are; the read after those, and the first, first deflate a
64 KiB sample and compress the whole read only when the sample shrinks (v4: an incompressible
file costs little deflate). A missing file is a terminating error. The controller inflates
(refusing a chunk that inflates to more than the largest read), appends to its partial file and
renames it only when its own digest of the whole file matches.
"""

from __future__ import annotations

# Remote scripts: constant text, values always travel as typed parameters / pipeline input.
# The first line is a marker that tests/winhost can use to recognise them.
#: Suffix of the partial file beside a transfer's destination (on the host for put, on the
#: controller for fetch); a retried transfer resumes from it.
PARTIAL_SUFFIX = ".psrp-partial"

PUT_PROBE_SCRIPT = r"""# psremoting.core put_file probe v1
[CmdletBinding()]
param (
    [Parameter(Mandatory = $true)] [string] $Path
)
$ErrorActionPreference = 'Stop'
$partial = $Path + '.psrp-partial'
if (-not [System.IO.File]::Exists($partial)) {
    return
}
$fs = [System.IO.File]::OpenRead($partial)
try {
    $algo = [System.Security.Cryptography.SHA256]::Create()
    $buffer = [byte[]]::new(1048576)
    while (($read = $fs.Read($buffer, 0, $buffer.Length)) -gt 0) {
        $null = $algo.TransformBlock($buffer, 0, $read, $null, 0)
    }
    $null = $algo.TransformFinalBlock([byte[]]::new(0), 0, 0)
    [PSCustomObject]@{
        length = [long]$fs.Length
        sha256 = [BitConverter]::ToString($algo.Hash).Replace('-', '').ToLowerInvariant()
    }
}
finally {
    $fs.Dispose()
}
"""

PUT_FILE_SCRIPT = r"""# psremoting.core put_file v5
[CmdletBinding()]
param (
    [Parameter(Mandatory = $true)] [string] $Path,
    [long] $Offset = 0,
    [string] $PrefixSha256 = '',
    [Parameter(ValueFromPipeline = $true)] [AllowNull()] [object] $InputObject
)
begin {
    $ErrorActionPreference = 'Stop'
    # What arrived is kept beside the target; the target is replaced only when the hash matches.
    $partial = $Path + '.psrp-partial'
    $algo = [System.Security.Cryptography.SHA256]::Create()
    $expected = $null
    $length = [long]0
    $buffer = $null
    if ($Offset -gt 0) {
        # Resume: the partial file must be the first $Offset bytes of the source.
        $prefix = [System.Security.Cryptography.SHA256]::Create()
        $fs = [System.IO.File]::OpenRead($partial)
        try {
            if ($fs.Length -ne $Offset) {
                throw "put_file: resume refused: $partial holds $($fs.Length) bytes, not $Offset"
            }
            $buffer = [byte[]]::new(1048576)
            while (($read = $fs.Read($buffer, 0, $buffer.Length)) -gt 0) {
                $null = $algo.TransformBlock($buffer, 0, $read, $null, 0)
                $null = $prefix.TransformBlock($buffer, 0, $read, $null, 0)
            }
        }
        finally {
            $fs.Dispose()
        }
        $null = $prefix.TransformFinalBlock([byte[]]::new(0), 0, 0)
        $have = [BitConverter]::ToString($prefix.Hash).Replace('-', '').ToLowerInvariant()
        if ($have -ne $PrefixSha256) {
            throw "put_file: resume refused: $partial is not a prefix of the source (SHA256 $have)"
        }
        $length = $Offset
    }
    else {
        [System.IO.File]::Create($partial).Dispose()
    }
}
process {
    try {
        if ($InputObject -is [System.Collections.IDictionary]) {
            # A chunk the controller compressed: raw deflate (RFC 1951) under the key Deflate,
            # inflated through a buffer straight into the partial file, hashed on the way (v5:
            # no MemoryStream of the whole chunk).
            if ($null -eq $buffer) {
                # DeflateStream: System.dll on .NET Framework, System.IO.Compression on .NET.
                Add-Type -AssemblyName System.IO.Compression
                $buffer = [byte[]]::new(1048576)
            }
            $inflater = [System.IO.Compression.DeflateStream]::new(
                [System.IO.MemoryStream]::new([byte[]]$InputObject['Deflate']),
                [System.IO.Compression.CompressionMode]::Decompress)
            try {
                # Opened per chunk: a put cut off by the network leaves no handle on the partial file.
                $fs = [System.IO.File]::OpenWrite($partial)
                try {
                    $null = $fs.Seek(0, [System.IO.SeekOrigin]::End)
                    while (($read = $inflater.Read($buffer, 0, $buffer.Length)) -gt 0) {
                        $null = $algo.TransformBlock($buffer, 0, $read, $null, 0)
                        $fs.Write($buffer, 0, $read)
                        $length += $read
                    }
                }
                finally {
                    $fs.Dispose()
                }
            }
            finally {
                $inflater.Dispose()
            }
        }
        elseif ($InputObject -is [byte[]]) {
            $null = $algo.TransformBlock($InputObject, 0, $InputObject.Length, $null, 0)
            $fs = [System.IO.File]::OpenWrite($partial)
            try {
                $null = $fs.Seek(0, [System.IO.SeekOrigin]::End)
                $fs.Write($InputObject, 0, $InputObject.Length)
            }
            finally {
                $fs.Dispose()
            }
            $length += $InputObject.Length
        }
        elseif ($InputObject -is [string]) {
            $expected = $InputObject
        }
    }
    catch {
        Remove-Item -LiteralPath $partial -Force -ErrorAction SilentlyContinue
        throw
    }
}
end {
    $null = $algo.TransformFinalBlock([byte[]]::new(0), 0, 0)
    $actual = [BitConverter]::ToString($algo.Hash).Replace('-', '').ToLowerInvariant()
    if ($actual -ne $expected) {
        Remove-Item -LiteralPath $partial -Force -ErrorAction SilentlyContinue
        throw "put_file: SHA256 of received data $actual does not match the sent $expected"
    }
    # The file renamed must be the one hashed: another put to the same path shares the partial
    # name and may have appended between our chunks.
    $disk = [System.Security.Cryptography.SHA256]::Create()
    $fs = [System.IO.File]::OpenRead($partial)
    try {
        $buffer = [byte[]]::new(1048576)
        while (($read = $fs.Read($buffer, 0, $buffer.Length)) -gt 0) {
            $null = $disk.TransformBlock($buffer, 0, $read, $null, 0)
        }
    }
    finally {
        $fs.Dispose()
    }
    $null = $disk.TransformFinalBlock([byte[]]::new(0), 0, 0)
    $stored = [BitConverter]::ToString($disk.Hash).Replace('-', '').ToLowerInvariant()
    if ($stored -ne $actual) {
        Remove-Item -LiteralPath $partial -Force -ErrorAction SilentlyContinue
        $why = "SHA256 $stored, sent $actual; another put to $Path at the same time?"
        throw "put_file: $partial changed on the host while it was written ($why); $Path was not replaced"
    }
    if ([System.IO.File]::Exists($Path)) { [System.IO.File]::Delete($Path) }
    [System.IO.File]::Move($partial, $Path)
    [PSCustomObject]@{ sha256 = $actual; length = $length }
}
"""

FETCH_FILE_SCRIPT = r"""# psremoting.core fetch_file v4
[CmdletBinding()]
param (
    [Parameter(Mandatory = $true)] [string] $Path,
    [Parameter(Mandatory = $true)] [int] $BufferSize,
    [switch] $Compress,
    [int] $CompressedReadSize = 0,
    [long] $Offset = 0,
    [string] $PrefixSha256 = ''
)
$ErrorActionPreference = 'Stop'
if ([System.IO.Directory]::Exists($Path)) {
    '[DIR]'
    return
}
function Get-Deflated($Data, [int] $Count) {
    # Raw deflate (RFC 1951) of the first $Count bytes of $Data, as a MemoryStream.
    $packed = [System.IO.MemoryStream]::new()
    $deflater = [System.IO.Compression.DeflateStream]::new(
        $packed, [System.IO.Compression.CompressionLevel]::Fastest, $true)
    $deflater.Write($Data, 0, $Count)
    $deflater.Dispose()
    $packed
}
$fs = [System.IO.File]::OpenRead($Path)
try {
    '[FILE]'
    $algo = [System.Security.Cryptography.SHA256]::Create()
    $readSize = [Math]::Max($BufferSize, $CompressedReadSize)
    $buffer = [byte[]]::new($readSize)
    $start = [long]0
    if ($Offset -gt 0 -and $Offset -le $fs.Length) {
        # Resume: the controller holds $Offset bytes; only the rest follows if they match.
        $prefix = [System.Security.Cryptography.SHA256]::Create()
        $left = $Offset
        while ($left -gt 0 -and ($read = $fs.Read($buffer, 0, [Math]::Min($readSize, $left))) -gt 0) {
            $null = $algo.TransformBlock($buffer, 0, $read, $null, 0)
            $null = $prefix.TransformBlock($buffer, 0, $read, $null, 0)
            $left -= $read
        }
        $null = $prefix.TransformFinalBlock([byte[]]::new(0), 0, 0)
        $have = [BitConverter]::ToString($prefix.Hash).Replace('-', '').ToLowerInvariant()
        if ($left -eq 0 -and $have -eq $PrefixSha256) {
            $start = $Offset
        }
        else {
            $null = $fs.Seek(0, [System.IO.SeekOrigin]::Begin)
            $algo = [System.Security.Cryptography.SHA256]::Create()
        }
    }
    'RESUME:' + $start
    if ($Compress) {
        # DeflateStream: System.dll on .NET Framework, System.IO.Compression on .NET.
        Add-Type -AssemblyName System.IO.Compression
    }
    $sample = 65536
    $skip = 0
    $probe = $true
    $want = $BufferSize
    while (($read = $fs.Read($buffer, 0, $want)) -gt 0) {
        $null = $algo.TransformBlock($buffer, 0, $read, $null, 0)
        $packed = $null
        if ($Compress -and $skip -gt 0) {
            $skip--
        }
        elseif ($Compress) {
            # After a read that did not shrink (and at the start) a sample decides first.
            if (-not $probe -or $read -le $sample -or
                (Get-Deflated $buffer $sample).Length -le $sample * 0.9) {
                $packed = Get-Deflated $buffer $read
                if ($packed.Length -gt $read * 0.9) {
                    $packed = $null
                }
            }
            if ($null -eq $packed) {
                $skip = 15
            }
        }
        if ($null -ne $packed) {
            @{ Deflate = $packed.ToArray() }
            $want = $readSize
            $probe = $false
            continue
        }
        $want = $BufferSize
        $probe = $true
        $chunk = [byte[]]::new($read)
        [Array]::Copy($buffer, $chunk, $read)
        , $chunk
    }
    $null = $algo.TransformFinalBlock([byte[]]::new(0), 0, 0)
    'SHA256:' + [BitConverter]::ToString($algo.Hash).Replace('-', '').ToLowerInvariant()
}
finally {
    $fs.Dispose()
}
"""


# Session state reset (persistent sessions only). First run in a pool: remember the process
# environment, the runspace location and the process current directory. Later runs: restore
# them, undoing what a task changed (module_wrapper.ps1 applies a task's ``environment:`` with
# [Environment]::SetEnvironmentVariable and never removes it; a raw ``Set-Location`` sticks to
# the pool's runspace).
SESSION_STATE_SCRIPT = r"""# psremoting.core session state v1
$base = $global:PSRemotingCoreSessionBaseline
if ($null -eq $base) {
    $global:PSRemotingCoreSessionBaseline = @{
        Env = [Environment]::GetEnvironmentVariables()
        Location = (Get-Location).Path
        Directory = [Environment]::CurrentDirectory
    }
    return
}
foreach ($name in @([Environment]::GetEnvironmentVariables().Keys)) {
    if (-not $base.Env.Contains($name)) {
        [Environment]::SetEnvironmentVariable($name, $null)
    }
}
foreach ($name in @($base.Env.Keys)) {
    $value = $base.Env[$name]
    if ([Environment]::GetEnvironmentVariable($name) -cne $value) {
        [Environment]::SetEnvironmentVariable($name, $value)
    }
}
Set-Location -LiteralPath $base.Location
[Environment]::CurrentDirectory = $base.Directory
"""
