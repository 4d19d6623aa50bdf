-- torchvision-structured ResNet-18 inference (random weights, torchvision's init),
-- batch 16 at 3x224x224, eval mode, no_grad: ms per forward, median of 10 after 2
-- warm-ups. Twin of ../shared/bench/pytorch/resnet18_infer.py (same model, sizes,
-- loop and JSON lines).
local torch = require 'torch'
local models = require 'models'

local function emit(bench, metric, value, unit)
  print(('{"bench": "%s", "metric": "%s", "value": %.6g, "unit": "%s"}'):format(bench, metric, value, unit))
  io.stdout:flush()
end

torch.manual_seed(0)
local model = models.resnet18():eval()
local x = torch.randn(16, 3, 224, 224)
local times = {}
torch.no_grad(function()
  for _ = 1, 2 do model(x) end
  for i = 1, 10 do
    local t0 = torch.clock()
    model(x)
    times[i] = torch.clock() - t0
  end
end)
table.sort(times)
local median = (times[5] + times[6]) / 2
emit('resnet18_infer', 'forward_ms', median * 1e3, 'ms')
emit('resnet18_infer', 'images_per_s', 16 / median, 'items/s')
