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

// STOPS_AVX2 loads the 64-byte block at SI into Y0 and Y1 and stores its
// stop bits at DI (clobbers Y2-Y5, AX, BX).
#define STOPS_AVX2 \
	VMOVDQU   0(SI), Y0     \
	VMOVDQU   32(SI), Y1    \
	VPCMPEQB  Y8, Y0, Y2    \
	VPCMPEQB  Y9, Y0, Y3    \
	VPOR      Y3, Y2, Y2    \
	VPCMPGTB  Y0, Y10, Y3   \
	VPOR      Y3, Y2, Y2    \
	VPMOVMSKB Y2, AX        \
	VPCMPEQB  Y8, Y1, Y4    \
	VPCMPEQB  Y9, Y1, Y5    \
	VPOR      Y5, Y4, Y4    \
	VPCMPGTB  Y1, Y10, Y5   \
	VPOR      Y5, Y4, Y4    \
	VPMOVMSKB Y4, BX        \
	SHLQ      $32, BX       \
	ORQ       BX, AX        \
	MOVQ      AX, 0(DI)

// func stopBlocksAVX2(dst *uint64, src *byte, blocks int) (newlineBlock int)
//
// stopBlocksSSE2 over 32 bytes a compare: per half block, VPCMPEQB against
// '"' and '\\' and VPCMPGTB of 0x20 over the bytes as signed values, ORed
// and gathered by VPMOVMSKB into 32 mask bits. Until a block with a '\n'
// is found, each block is also compared against '\n'; the loop after that
// leaves the test out.
TEXT ·stopBlocksAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ blocks+16(FP), CX
	MOVQ $-1, R9
	XORQ R10, R10

	MOVQ         $0x22, AX
	MOVQ         AX, X8
	VPBROADCASTB X8, Y8
	MOVQ         $0x5c, AX
	MOVQ         AX, X9
	VPBROADCASTB X9, Y9
	MOVQ         $0x20, AX
	MOVQ         AX, X10
	VPBROADCASTB X10, Y10
	MOVQ         $0x0a, AX
	MOVQ         AX, X11
	VPBROADCASTB X11, Y11

seek:
	// Blocks before the first one with a newline.
	CMPQ R10, CX
	JGE  done

	STOPS_AVX2

	VPCMPEQB Y11, Y0, Y2
	VPCMPEQB Y11, Y1, Y3
	VPOR     Y3, Y2, Y2
	ADDQ     $64, SI
	ADDQ     $8, DI
	INCQ     R10
	VPTEST   Y2, Y2
	JZ       seek
	LEAQ     -1(R10), R9

rest:
	// Blocks after it.
	CMPQ R10, CX
	JGE  done

	STOPS_AVX2

	ADDQ $64, SI
	ADDQ $8, DI
	INCQ R10
	JMP  rest

done:
	VZEROUPPER
	MOVQ R9, newlineBlock+24(FP)
	RET
