#include "textflag.h"

// i.MX6UL registers (IMX6ULRM rev. 1, ch. 55 UART and ch. 46 SNVS;
// addresses as QEMU 7.2 -M mcimx6ul-evk maps them).
#define UART1_URXD 0x02020000 // receiver register: CHARRDY is bit 15
#define UART1_UTXD 0x02020040 // transmitter register
#define UART1_UCR1 0x02020080 // UARTEN is bit 0
#define UART1_UCR2 0x02020084 // SRST(0, 1 = no reset) RXEN(1) TXEN(2) WS(5) IRTS(14)
#define UART2_UTXD 0x021E8040
#define SNVS_LPCR  0x020CC038 // TOP(6)|DP_EN(5) turns the chip (and QEMU) off

#define UCR2_ON    0x4027
#define LPCR_OFF   0x60
#define URXD_READY 0x8000

// puts writes the NUL-terminated string at R2 to the UTXD register at R0.
// QEMU's transmitter never fills, so there is no TXFULL poll.
#define PUTS(reg, label) \
	MOVW	$reg, R0; \
	MOVW	$label(SB), R2; \
	BL	puts<>(SB)

TEXT puts<>(SB),NOSPLIT|NOFRAME,$0
loop:
	MOVBU.P	1(R2), R1
	CMP	$0, R1
	BEQ	done
	MOVW	R1, (R0)
	B	loop
done:
	RET

TEXT poweroff<>(SB),NOSPLIT|NOFRAME,$0
	MOVW	$SNVS_LPCR, R0
	MOVW	$LPCR_OFF, R1
	MOVW	R1, (R0)
spin:
	WORD	$0xe320f003 // WFI, until QEMU stops the CPU
	B	spin

TEXT main·exitZero(SB),NOSPLIT|NOFRAME,$0
	PUTS(UART1_UTXD, hello<>)
	PUTS(UART2_UTXD, uart2<>)
	B	poweroff<>(SB)

TEXT main·hang(SB),NOSPLIT|NOFRAME,$0
	PUTS(UART1_UTXD, hang<>)
sleep:
	WORD	$0xe320f003 // WFI: IRQs are masked and none is enabled, so never wakes
	B	sleep

TEXT main·echo(SB),NOSPLIT|NOFRAME,$0
	MOVW	$UART1_UCR2, R0
	MOVW	$UCR2_ON, R1
	MOVW	R1, (R0)
	PUTS(UART1_UTXD, echo<>)
	MOVW	$UART1_URXD, R3
	MOVW	$UART1_UTXD, R4
poll:
	MOVW	(R3), R1
	AND.S	$URXD_READY, R1, R5
	BEQ	poll
	AND	$0xff, R1
	CMP	$'q', R1
	BEQ	quit
	MOVW	R1, (R4)
	B	poll
quit:
	B	poweroff<>(SB)

DATA hello<>+0(SB)/8, $"minimal:"
DATA hello<>+8(SB)/8, $" hello\n\x00"
GLOBL hello<>(SB), RODATA, $16
DATA uart2<>+0(SB)/8, $"minimal:"
DATA uart2<>+8(SB)/8, $" uart2\n\x00"
GLOBL uart2<>(SB), RODATA, $16
DATA hang<>+0(SB)/8, $"minimal:"
DATA hang<>+8(SB)/8, $" hang\n\x00\x00"
GLOBL hang<>(SB), RODATA, $16
DATA echo<>+0(SB)/8, $"minimal:"
DATA echo<>+8(SB)/8, $" echo\n\x00\x00"
GLOBL echo<>(SB), RODATA, $16
