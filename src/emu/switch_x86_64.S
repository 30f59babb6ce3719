// SPDX-License-Identifier: Apache-2.0
// Fiber context switch for the CUDA emulation (System V x86-64): saves the callee-saved registers on the current
// stack, stores its pointer in *from, and resumes the stack `to`.  void ddpm4j_emu_switch(void **from, void *to)
    .text
    .globl ddpm4j_emu_switch
    .hidden ddpm4j_emu_switch
    .type ddpm4j_emu_switch, @function
ddpm4j_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size ddpm4j_emu_switch, .-ddpm4j_emu_switch
    .section .note.GNU-stack,"",@progbits
