#include "textflag.h"

// func stopBlocksSSE2(dst *uint64, src *byte, blocks int) (newlineBlock int)
//
// Per 16 bytes: PCMPEQB against '"' and '\\', and PCMPGTB of 0x20 over
// the bytes as signed values (true for 0x00-0x1f and for 0x80-0xff, which
// are negative), ORed and gathered by PMOVMSKB into 16 mask bits. A
// separate PCMPEQB against '\n' is tested per block until one is found.
TEXT ·stopBlocksSSE2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ blocks+16(FP), CX
	MOVQ $-1, R9
	XORQ R10, R10

	MOVQ $0x2222222222222222, AX
	MOVQ AX, X8
	PUNPCKLQDQ X8, X8
	MOVQ $0x5c5c5c5c5c5c5c5c, AX
	MOVQ AX, X9
	PUNPCKLQDQ X9, X9
	MOVQ $0x2020202020202020, AX
	MOVQ AX, X10
	PUNPCKLQDQ X10, X10
	MOVQ $0x0a0a0a0a0a0a0a0a, AX
	MOVQ AX, X11
	PUNPCKLQDQ X11, X11

loop:
	CMPQ R10, CX
	JGE  done

	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3

	// newline bytes of the block, folded into X12
	MOVOU   X0, X12
	PCMPEQB X11, X12
	MOVOU   X1, X13
	PCMPEQB X11, X13
	POR     X13, X12
	MOVOU   X2, X13
	PCMPEQB X11, X13
	POR     X13, X12
	MOVOU   X3, X13
	PCMPEQB X11, X13
	POR     X13, X12

	// bytes 0-15
	MOVOU    X0, X4
	PCMPEQB  X8, X4
	MOVOU    X0, X5
	PCMPEQB  X9, X5
	POR      X5, X4
	MOVOU    X10, X5
	PCMPGTB  X0, X5
	POR      X5, X4
	PMOVMSKB X4, AX

	// bytes 16-31
	MOVOU    X1, X4
	PCMPEQB  X8, X4
	MOVOU    X1, X5
	PCMPEQB  X9, X5
	POR      X5, X4
	MOVOU    X10, X5
	PCMPGTB  X1, X5
	POR      X5, X4
	PMOVMSKB X4, BX
	SHLQ     $16, BX
	ORQ      BX, AX

	// bytes 32-47
	MOVOU    X2, X4
	PCMPEQB  X8, X4
	MOVOU    X2, X5
	PCMPEQB  X9, X5
	POR      X5, X4
	MOVOU    X10, X5
	PCMPGTB  X2, X5
	POR      X5, X4
	PMOVMSKB X4, BX
	SHLQ     $32, BX
	ORQ      BX, AX

	// bytes 48-63
	MOVOU    X3, X4
	PCMPEQB  X8, X4
	MOVOU    X3, X5
	PCMPEQB  X9, X5
	POR      X5, X4
	MOVOU    X10, X5
	PCMPGTB  X3, X5
	POR      X5, X4
	PMOVMSKB X4, BX
	SHLQ     $48, BX
	ORQ      BX, AX

	MOVQ AX, 0(DI)

	TESTQ R9, R9
	JNS   next
	PMOVMSKB X12, BX
	TESTQ    BX, BX
	JZ       next
	MOVQ     R10, R9

next:
	ADDQ $64, SI
	ADDQ $8, DI
	INCQ R10
	JMP  loop

done:
	MOVQ R9, newlineBlock+24(FP)
	RET
