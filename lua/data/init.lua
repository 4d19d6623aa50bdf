-- data: datasets, samplers, the DataLoader (with worker processes), built-in
-- datasets and transforms. Each part lives in lua/data/<part>.lua and adds its
-- entries to this table; parts not present yet are skipped.
local data = {}
package.loaded['data'] = data -- before the parts load: they require 'data'

local PARTS = {
  'dataset',    -- Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset, random_split
  'sampler',    -- SequentialSampler, RandomSampler, ..., BatchSampler
  'collate',    -- default_collate
  'workers',    -- worker processes for num_workers > 0, get_worker_info
  'dataloader', -- DataLoader
  'datasets',   -- data.datasets: FashionMNIST, MNIST, CIFAR10/100, ImageFolder, CSVDataset
  'transforms', -- data.transforms: image.transforms
}
for _, part in ipairs(PARTS) do
  local name = 'data.' .. part
  if package.searchpath(name, package.path) then require(name) end
end
return data
