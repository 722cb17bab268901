// Smallpot's own small YARA rule set for its tests: not a detection
// catalogue.

rule Smallpot_ELF_Busybox_Bot
{
    meta:
        family = "Mirai"
        variant = "test"
        severity = "high"
        description = "an ELF executable that names /bin/busybox"
    strings:
        $busybox = "/bin/busybox"
    condition:
        uint32(0) == 0x464c457f and $busybox
}

rule Smallpot_Nimda_Mailer
{
    meta:
        family = "Nimda"
        exploit = "Internet Explorer runs an attachment whose MIME type lies"
        cve = "CVE-2001-0154"
        bulletin = "MS01-020"
        severity = "critical"
    strings:
        $eml = "readme.eml"
        $wav = "audio/x-wav"
    condition:
        uint16(0) == 0x5a4d and all of them
}
