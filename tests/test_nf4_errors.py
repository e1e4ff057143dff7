"""Error paths of ft_course.nf4 and ft_course.qlora: clear errors that name the input (moved from lessons 03 and 04)."""
import pytest
import torch
from torch import nn

from ft_course.nf4 import (bits_per_parameter, blockwise_absmax, dequantize_nf4, dequantize_nf4_torch,
                           double_dequantize, double_quantize, quantize_nf4)


@pytest.mark.parametrize("dequantize", [dequantize_nf4, dequantize_nf4_torch])
def test_dequantize_bad_input(dequantize):
    packed, absmax = quantize_nf4(torch.randn(10, 13))
    cases = [((packed.float(), absmax, (10, 13)), {}, "must be a uint8 tensor"),
             ((packed.to(torch.int8), absmax, (10, 13)), {}, "got torch.int8"),
             ((packed[:-1], absmax, (10, 13)), {}, "64 bytes but shape (10, 13) (130 values) needs"),
             ((packed, absmax, (10, 14)), {}, "the shape does not match"),
             ((packed, absmax, (10, 13)), {"blocksize": 32}, "absmax has 3 values but"),
             ((packed, absmax, (10, 13)), {"blocksize": 48}, "blocksize must be one of")]
    for args, kwargs, message in cases:
        with pytest.raises((TypeError, ValueError), match=None) as e: dequantize(*args, **kwargs)
        assert message in str(e.value), (message, str(e.value))
