// A second file that reuses a rule name of smallpot.yar: each file is
// its own namespace.

rule Smallpot_ELF_Busybox_Bot
{
    strings:
        $a = "MIRAI"
    condition:
        $a
}
