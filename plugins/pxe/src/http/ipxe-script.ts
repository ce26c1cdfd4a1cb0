import { MetalplaneError, type BootArch, type DirectBootPlan, type KernelBootPlan, type RegistrationBootPlan } from '@metalplane/core';

/**
 * A plan that cannot be written into an iPXE script without changing what it means: a
 * newline or a command separator in a kernel command line, a URL that is not http(s),
 * relative or `artifact:<sha256>`. The plan comes from core (a profile or a build), so
 * this is an operator's problem, not the booting machine's; `details.field` names it.
 */
export class UnsafeBootPlanError extends MetalplaneError {
  constructor(field: string, reason: string) {
    super('unsafe_boot_plan', `boot plan ${field} ${reason}`, { field, reason });
  }
}

export interface IpxeScriptContext {
  /** How machines reach the host, `scheme://host:port` (no path, no trailing slash). */
  readonly baseUrl: string;
  /** The firmware iPXE runs on; decides `initrd=` on the kernel command line. */
  readonly arch: BootArch;
  /** The URL a `hold` script asks again at (normally the URL that served it). */
  readonly selfUrl: string;
  /** Attempts at loading kernel and initrds before giving up and rebooting; default 3. */
  readonly attempts?: number;
  /** Seconds between attempts; default 10. */
  readonly retryDelaySeconds?: number;
  /** Seconds a `hold` script waits before asking again; default 60. */
  readonly holdIntervalSeconds?: number;
}

const MAX_ATTEMPTS = 10;

/**
 * The iPXE script for a plan. Pure: the same plan and context give the same text.
 *
 * - `registration`, `kernel`: `kernel`, `initrd --name initrdN`, `boot`, retried
 *   `attempts` times `retryDelaySeconds` apart (iPXE prints why a fetch failed), then a
 *   reboot, so the loop guard in core sees the attempt. On every arch except `bios` the
 *   command line starts with `initrd=initrd0 ...`: a Linux EFI stub started by iPXE finds
 *   its initrds by those names (older iPXE has no LoadFile2 initrd), and without them it
 *   panics unable to mount root. It is harmless where it is not needed (the kernel's own
 *   `initrd=` parameter only acts on `<address>,<size>`, and NixOS's netboot.ipxe always
 *   passes it), so `unknown` gets it too. `initrd=` tokens already in the plan's command
 *   line are dropped: they name files this script does not load.
 * - `script`: the profile's script, with a `#!ipxe` line added when it has none.
 * - `localboot`: `exit 1`; `sanboot` first tries `sanboot --no-describe --drive 0x80`
 *   and exits if that fails. `http-404` is answered with HTTP 404 by the route; rendered
 *   here like `exit` for callers that cannot do that.
 * - `hold`: prints the reason, waits `holdIntervalSeconds` (Ctrl-B opens the iPXE shell)
 *   and chains to `selfUrl` again, for as long as the machine is on hold.
 *
 * iPXE splits a line on whitespace, treats the tokens `||`, `&&`, `;` as command
 * separators, a token starting with `#` as a comment and expands `${name}` everywhere;
 * it has no quoting. So a command line or URL with a control character, such a token or
 * a malformed `${` is refused ({@link UnsafeBootPlanError}); `${name}` is left for iPXE
 * to expand (Talos's `talos.config=...${uuid}` gets iPXE's value, which is the same).
 * Texts that are only printed (reasons) are made harmless instead of refused.
 */
export function renderIpxeScript(plan: DirectBootPlan, context: IpxeScriptContext): string {
  switch (plan.kind) {
    case 'registration':
    case 'kernel':
      return kernelScript(plan, context);
    case 'script':
      return profileScript(plan.script);
    case 'localboot':
      return localbootScript(plan.method, plan.reason);
    case 'hold':
      return holdScript(plan.reason, context);
    default:
      return assertNever(plan);
  }
}

/** The file names initrds get in iPXE, and that `initrd=` on the command line refers to. */
export function initrdName(index: number): string {
  return `initrd${index}`;
}

/** Whether the kernel command line must name the initrds (every arch but BIOS; see above). */
export function needsInitrdArgument(arch: BootArch): boolean {
  return arch !== 'bios';
}

function kernelScript(plan: KernelBootPlan | RegistrationBootPlan, context: IpxeScriptContext): string {
  const attempts = boundedInteger(context.attempts ?? 3, 1, MAX_ATTEMPTS);
  const delay = boundedInteger(context.retryDelaySeconds ?? 10, 1, 3600);
  const kernelUrl = resolveBootUrl(plan.kernel, context.baseUrl, 'kernel');
  const initrds = plan.initrd.map((path, i) => ({ name: initrdName(i), url: resolveBootUrl(path, context.baseUrl, `initrd[${i}]`) }));
  const args = cmdlineTokens(plan.cmdline).filter((token) => !token.startsWith('initrd='));
  if (needsInitrdArgument(context.arch)) args.unshift(...initrds.map((initrd) => `initrd=${initrd.name}`));
  return lines([
    '#!ipxe',
    `# metalplane: ${plan.kind} (${context.arch})`,
    `echo metalplane: ${printable(plan.reason)}`,
    'clear mp_attempt',
    ':mp_attempt',
    'inc mp_attempt',
    'imgfree',
    `kernel ${[kernelUrl, ...args].join(' ')} || goto mp_failed`,
    ...initrds.map((initrd) => `initrd --name ${initrd.name} ${initrd.url} || goto mp_failed`),
    'boot || goto mp_failed',
    ':mp_failed',
    `echo metalplane: attempt \${mp_attempt} of ${attempts} failed (the reason is printed above)`,
    `iseq \${mp_attempt} ${attempts} && goto mp_give_up ||`,
    `echo metalplane: trying again in ${delay} seconds`,
    `sleep ${delay}`,
    'goto mp_attempt',
    ':mp_give_up',
    `echo metalplane: giving up after ${attempts} attempts; rebooting in ${delay} seconds`,
    `sleep ${delay}`,
    'reboot',
  ]);
}

const IPXE_MAGIC = /^#!(ipxe|gpxe)(\s|$)/;

function profileScript(script: string): string {
  const body = script.replace(/\r\n?/g, '\n').replace(/^\s+/, '');
  const text = IPXE_MAGIC.test(body) ? body : `#!ipxe\n${body}`;
  return text.endsWith('\n') ? text : `${text}\n`;
}

function localbootScript(method: 'exit' | 'sanboot' | 'http-404', reason: string): string {
  // UEFI boot managers stop at their menu when an image returns EFI_SUCCESS (UEFI spec
  // 3.1.1) and go on to the next boot option otherwise, so exit with a non-zero status;
  // BIOS ignores the status.
  const exit = ['echo metalplane: returning to the firmware for the next boot device', 'exit 1'];
  const sanboot =
    method === 'sanboot'
      ? ['echo metalplane: booting the first local disk', 'sanboot --no-describe --drive 0x80 ||', 'echo metalplane: sanboot failed (the reason is printed above)']
      : [];
  return lines(['#!ipxe', `# metalplane: localboot (${method})`, `echo metalplane: ${printable(reason)}`, ...sanboot, ...exit]);
}

function holdScript(reason: string, context: IpxeScriptContext): string {
  const interval = boundedInteger(context.holdIntervalSeconds ?? 60, 5, 3600);
  const selfUrl = checkedToken(context.selfUrl, 'selfUrl');
  if (!/^https?:\/\//.test(selfUrl)) throw new UnsafeBootPlanError('selfUrl', 'must be an http(s) URL');
  return lines([
    '#!ipxe',
    '# metalplane: hold',
    ':mp_hold',
    `echo metalplane: this machine is on hold: ${printable(reason)}`,
    `prompt --key 0x02 --timeout ${interval * 1000} metalplane: asking again in ${interval} seconds; Ctrl-B for the iPXE shell && shell ||`,
    'echo',
    `chain --replace --autofree ${selfUrl} ||`,
    'goto mp_hold',
  ]);
}

const SHA256 = /^[0-9a-f]{64}$/;
const ARTIFACT_PREFIX = 'artifact:';

/**
 * Where iPXE fetches a plan's file: http(s) URLs as they are, `artifact:<sha256>` from
 * the host's artifact storage, and relative paths (`registration/vmlinuz`) under
 * `${baseUrl}/boot/`, which they may not leave.
 */
export function resolveBootUrl(value: string, baseUrl: string, field: string): string {
  const token = checkedToken(value, field);
  const boot = `${baseUrl.replace(/\/+$/, '')}/boot/`;
  if (token.startsWith(ARTIFACT_PREFIX)) {
    const sha256 = token.slice(ARTIFACT_PREFIX.length).toLowerCase();
    if (!SHA256.test(sha256)) throw new UnsafeBootPlanError(field, 'names an artifact by something other than 64 hex digits (sha256)');
    return `${boot}artifacts/${sha256}`;
  }
  if (/^https?:\/\//i.test(token)) return token;
  if (/^[a-z][a-z0-9+.-]*:/i.test(token)) throw new UnsafeBootPlanError(field, 'must be an http(s) URL, artifact:<sha256> or a path relative to the boot URL');
  let resolved: string;
  try {
    resolved = new URL(token, boot).href;
  } catch {
    throw new UnsafeBootPlanError(field, 'is not a valid relative path');
  }
  if (!resolved.startsWith(boot)) throw new UnsafeBootPlanError(field, `leaves ${boot}`);
  return resolved;
}

/** The kernel command line as iPXE will see it: whitespace-separated tokens, each checked. */
function cmdlineTokens(cmdline: string): string[] {
  if (CONTROL.test(cmdline)) throw new UnsafeBootPlanError('cmdline', 'contains a control character (a newline would start a new iPXE command)');
  return cmdline
    .split(/\s+/)
    .filter((token) => token.length > 0)
    .map((token) => checkedToken(token, 'cmdline'));
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const SEPARATORS = new Set(['||', '&&', ';']);
/** `${name}` as iPXE expands it: a setting name, optionally scoped and typed (`${net0/mac:hexhyp}`). */
const EXPANSION = /\$\{[A-Za-z0-9_.:/-]+\}/g;

function checkedToken(token: string, field: string): string {
  if (token.length === 0) throw new UnsafeBootPlanError(field, 'is empty');
  if (CONTROL.test(token) || /\s/.test(token)) throw new UnsafeBootPlanError(field, 'contains whitespace or a control character');
  if (SEPARATORS.has(token)) throw new UnsafeBootPlanError(field, `contains "${token}", which iPXE reads as a command separator`);
  if (token.startsWith('#')) throw new UnsafeBootPlanError(field, 'contains a word starting with "#", which iPXE reads as a comment');
  if (token.replace(EXPANSION, '').includes('${')) throw new UnsafeBootPlanError(field, 'contains "${" that is not a setting name like ${uuid}');
  return token;
}

/** Text for `echo`: one line, no expansion, no separators or comments; at most 300 characters. */
export function printable(text: string): string {
  const words = text
    .replace(new RegExp(CONTROL.source, 'g'), ' ')
    .replace(/\$\{/g, '$ {')
    .split(/\s+/)
    .filter((word) => word.length > 0)
    .map((word) => (SEPARATORS.has(word) || word.startsWith('#') ? `(${word})` : word));
  const line = words.join(' ');
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

function boundedInteger(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.trunc(Number.isFinite(value) ? value : min)));
}

function lines(all: readonly string[]): string {
  return `${all.join('\n')}\n`;
}

function assertNever(value: never): never {
  throw new Error(`unexpected boot plan: ${JSON.stringify(value)}`);
}
