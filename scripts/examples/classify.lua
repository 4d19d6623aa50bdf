-- Classify an image with a model of the zoo, as the tutorials' first chapter does with
-- torchvision: Resize(256), CenterCrop(224), ToTensor, Normalize with ImageNet's mean
-- and std, a batch of one, eval mode, no_grad, then the top-5 labels with softmax
-- percentages.
--   build/th scripts/examples/classify.lua image.png --model resnet18 --weights resnet18.pth
--     --labels imagenet_classes.txt [--top 5] [--num-classes 1000]
-- Weights come from a file the user has (.pth/.pt written by PyTorch, .safetensors, or
-- Ember's own format); export one from PyTorch with
--   torch.save(torchvision.models.resnet18(weights='DEFAULT').state_dict(), 'resnet18.pth')
-- or scripts/export_torchvision.py. Without --weights the model keeps its random
-- initialisation (useful only to try the pipeline).
local torch = require 'torch'
local image = require 'image'
local T = require 'image.transforms'
local models = require 'models'

local function usage(msg)
  io.stderr:write('classify.lua: ', msg, '\nusage: classify.lua IMAGE [--model NAME] [--weights FILE] ',
    '[--labels FILE] [--top K] [--num-classes N]\n')
  os.exit(2)
end

local o = { model = 'resnet18', top = 5 }
local argv, i = arg or {}, 1
while i <= #argv do
  local name = argv[i]:match('^%-%-(.+)$')
  if name then
    if argv[i + 1] == nil then usage('--' .. name .. ' needs a value') end
    o[name:gsub('%-', '_')] = argv[i + 1]
    i = i + 2
  else
    if o.image then usage('more than one image given') end
    o.image = argv[i]
    i = i + 1
  end
end
if not o.image then usage('no image given') end
if not models[o.model] or type(models[o.model]) ~= 'function' then usage('unknown model ' .. o.model) end
local top = math.tointeger(tonumber(o.top)) or usage('--top expects an integer')

local labels = {}
if o.labels then
  for line in assert(io.open(o.labels, 'r')):lines() do labels[#labels + 1] = line end
end
local num_classes = math.tointeger(tonumber(o.num_classes or '')) or (#labels > 0 and #labels or 1000)

local net = models[o.model] { num_classes = num_classes, weights = o.weights }
net:eval()

local preprocess = T.Compose {
  T.Resize(256), T.CenterCrop(224), T.ToTensor(),
  T.Normalize({ 0.485, 0.456, 0.406 }, { 0.229, 0.224, 0.225 }),
}
local img = image.load(o.image, { channels = 3, dtype = 'byte' })
local batch = preprocess(img):unsqueeze(1) -- a batch of one: 1x3x224x224
local scores = torch.no_grad(function() return net(batch) end)
local prob = torch.softmax(scores[1], 1) * 100
local values, indices = prob:topk(math.min(top, prob:numel()))
for k = 1, values:numel() do
  local c = indices[k] -- 1-based class number
  print(('%6.2f%%  %s'):format(values[k], labels[c] or ('class ' .. c)))
end
