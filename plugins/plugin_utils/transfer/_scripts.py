# for internal use by psremoting.core only; not a public API
"""Constant PowerShell scripts for put_file / fetch_file (stdlib-only module).

Values (paths, buffer size, data, hashes) always travel as typed parameters or pipeline input,
never inside the script text. The first line of each script is a version marker; tests/winhost
can import these constants to recognise and emulate them.

put_file v2 -- parameters: ``Path``. Pipeline input: chunks, then one string, the SHA256 hex
digest of the file. A chunk is either a ``byte[]`` (the bytes as they are) or a hashtable
``@{ Deflate = byte[] }`` holding the next bytes compressed as raw deflate (RFC 1951), which the
script inflates with ``System.IO.Compression.DeflateStream``; the controller compresses only the
chunks that shrink. Writes ``<Path>.<guid>.partial``, compares the digest of the bytes written
and only then replaces ``Path``; on a mismatch or error the temporary file is deleted and an error
is thrown. Output: one object ``{sha256, length}``.

fetch_file v2 -- parameters: ``Path``, ``BufferSize``, switch ``Compress``. Output: ``'[DIR]'``
for a directory, else ``'[FILE]'``, then one chunk per read of at most ``BufferSize`` bytes, then
``'SHA256:<hex>'`` of the file. A chunk is a ``byte[]``, or with ``-Compress``, when deflate
(``CompressionLevel.Fastest``) shrinks that read by at least 10%, ``@{ Deflate = byte[] }``
(raw deflate, RFC 1951); after a read that does not shrink the next 15 are not tried. A missing
file is a terminating error. The controller inflates, writes to a temporary file and renames it
only when its own digest matches.
"""

from __future__ import annotations

# Remote scripts: constant text, values always travel as typed parameters / pipeline input.
# The first line is a marker that tests/winhost can use to recognise them.
PUT_FILE_SCRIPT = r"""# psremoting.core put_file v2
[CmdletBinding()]
param (
    [Parameter(Mandatory = $true)] [string] $Path,
    [Parameter(ValueFromPipeline = $true)] [AllowNull()] [object] $InputObject
)
begin {
    $ErrorActionPreference = 'Stop'
    # Write to a temporary name beside the target; rename only when the hash matches.
    $tmp = '{0}.{1}.partial' -f $Path, [Guid]::NewGuid().ToString('N')
    $fs = [System.IO.File]::Create($tmp)
    $algo = [System.Security.Cryptography.SHA256]::Create()
    $expected = $null
    $length = [long]0
    $inflateLoaded = $false
}
process {
    try {
        $data = $InputObject
        if ($InputObject -is [System.Collections.IDictionary]) {
            # A chunk the controller compressed: raw deflate (RFC 1951) under the key Deflate.
            if (-not $inflateLoaded) {
                # DeflateStream: System.dll on .NET Framework, System.IO.Compression on .NET.
                Add-Type -AssemblyName System.IO.Compression
                $inflateLoaded = $true
            }
            $packed = [System.IO.MemoryStream]::new([byte[]]$InputObject['Deflate'])
            $inflater = [System.IO.Compression.DeflateStream]::new(
                $packed, [System.IO.Compression.CompressionMode]::Decompress)
            $plain = [System.IO.MemoryStream]::new()
            try {
                $inflater.CopyTo($plain)
            }
            finally {
                $inflater.Dispose()
            }
            $data = $plain.ToArray()
        }
        if ($data -is [byte[]]) {
            $null = $algo.TransformBlock($data, 0, $data.Length, $null, 0)
            $fs.Write($data, 0, $data.Length)
            $length += $data.Length
        }
        elseif ($data -is [string]) {
            $expected = $data
        }
    }
    catch {
        $fs.Dispose()
        Remove-Item -LiteralPath $tmp -Force -ErrorAction SilentlyContinue
        throw
    }
}
end {
    $fs.Dispose()
    $null = $algo.TransformFinalBlock([byte[]]::new(0), 0, 0)
    $actual = [BitConverter]::ToString($algo.Hash).Replace('-', '').ToLowerInvariant()
    if ($actual -ne $expected) {
        Remove-Item -LiteralPath $tmp -Force -ErrorAction SilentlyContinue
        throw "put_file: SHA256 of received data $actual does not match the sent $expected"
    }
    if ([System.IO.File]::Exists($Path)) { [System.IO.File]::Delete($Path) }
    [System.IO.File]::Move($tmp, $Path)
    [PSCustomObject]@{ sha256 = $actual; length = $length }
}
"""

FETCH_FILE_SCRIPT = r"""# psremoting.core fetch_file v2
[CmdletBinding()]
param (
    [Parameter(Mandatory = $true)] [string] $Path,
    [Parameter(Mandatory = $true)] [int] $BufferSize,
    [switch] $Compress
)
$ErrorActionPreference = 'Stop'
if ([System.IO.Directory]::Exists($Path)) {
    '[DIR]'
    return
}
$fs = [System.IO.File]::OpenRead($Path)
try {
    '[FILE]'
    $algo = [System.Security.Cryptography.SHA256]::Create()
    $buffer = [byte[]]::new($BufferSize)
    $skip = 0
    if ($Compress) {
        # DeflateStream: System.dll on .NET Framework, System.IO.Compression on .NET.
        Add-Type -AssemblyName System.IO.Compression
    }
    while (($read = $fs.Read($buffer, 0, $BufferSize)) -gt 0) {
        $null = $algo.TransformBlock($buffer, 0, $read, $null, 0)
        if ($Compress -and $skip -eq 0) {
            $packed = [System.IO.MemoryStream]::new()
            $deflater = [System.IO.Compression.DeflateStream]::new(
                $packed, [System.IO.Compression.CompressionLevel]::Fastest, $true)
            $deflater.Write($buffer, 0, $read)
            $deflater.Dispose()
            if ($packed.Length -le $read * 0.9) {
                @{ Deflate = $packed.ToArray() }
                continue
            }
            $skip = 15
        }
        elseif ($skip -gt 0) {
            $skip--
        }
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
