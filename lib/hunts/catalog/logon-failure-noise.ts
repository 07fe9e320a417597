/**
 * Failed-logon statuses that are configuration noise, not password guessing: the logon type is
 * not granted (0xC000015B), no logon servers (0xC000005E), clock skew (0xC0000133), netlogon not
 * started (0xC0000192). A misconfigured appliance fails with these all day. Every hunt that counts
 * failures as guessing leaves them out, from the Status or the SubStatus.
 */
export const NOISY_LOGON_FAILURE_STATUSES = ["0xC000015B", "0xC000005E", "0xC0000133", "0xC0000192"];
